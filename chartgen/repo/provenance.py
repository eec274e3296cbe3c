"""Helm provenance files: sign chart archives (`<archive>.prov`) and verify them.

A `.prov` file is an OpenPGP clear-signed document holding the chart's Chart.yaml and the
archive's SHA-256 (`files: {<archive>: sha256:...}`). `helm install --verify`, `helm verify`
and `chartgen verify` check it against a public keyring. Signing and verifying are Helm's own
code (helm-python-sdk's `sign` / `verify`, Helm's pkg/provenance), so what chartgen writes is
what Helm accepts.

The secret key comes from a file (`publish.sign.key`, `--sign-key`) or, ASCII-armored, from
CHARTGEN_SIGNING_KEY; its passphrase from CHARTGEN_SIGNING_PASSPHRASE. Helm reads binary
keyrings only, so an armored key is de-armored into a private temporary folder (mode 0700)
that is removed when signing ends; the key and the passphrase are registered as secrets and
never reach a log, an error message or the archive folder.
"""

from __future__ import annotations

import base64
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from chartgen.errors import ChartgenError, UsageError, redact, register_secret

SIGNING_KEY_ENV = "CHARTGEN_SIGNING_KEY"
PASSPHRASE_ENV = "CHARTGEN_SIGNING_PASSPHRASE"
PROV_SUFFIX = ".prov"
DEFAULT_KEYRING = "~/.gnupg/pubring.gpg"   # where `helm verify` looks by default
_USER_ID_TAG = 13


@dataclass(frozen=True)
class SignOptions:
    key_file: str = ""        # secret keyring or armored secret key; "": the environment
    name: str = ""            # a part of the signing key's user ID; "": the key's first
    env: Mapping[str, str] | None = None

    @property
    def environ(self) -> Mapping[str, str]:
        return os.environ if self.env is None else self.env


@dataclass(frozen=True)
class Verification:
    archive: Path
    file_hash: str
    signed_by: tuple[str, ...]


def provenance_path(archive: Path | str) -> Path:
    return Path(f"{archive}{PROV_SUFFIX}")


def sign_options(settings, *, sign: bool | None = None, key_file: str | None = None,
                 name: str | None = None) -> SignOptions | None:
    """SignOptions from the `publish:` settings (command-line values winning); None when
    archives are not to be signed (`publish.sign.enabled` off and no --sign)."""
    if not (settings.sign_enabled if sign is None else sign):
        return None
    return SignOptions(key_file=str(key_file or settings.sign_key or ""), name=name or settings.sign_name)


# -- OpenPGP, as far as finding a key needs it ------------------------------------------------------

def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def dearmor(text: str, *, what: str = "key") -> bytes:
    """The binary packets of every ASCII-armored block in `text` (RFC 4880 §6), checksums checked."""
    packets = b""
    lines = [line.strip() for line in text.replace("\r", "").split("\n")]
    index = 0
    while index < len(lines):
        if not (lines[index].startswith("-----BEGIN PGP ") and lines[index].endswith("-----")):
            index += 1
            continue
        index += 1
        while index < len(lines) and lines[index] and ":" in lines[index]:   # armor headers
            index += 1
        body, checksum = [], None
        while index < len(lines) and not lines[index].startswith("-----END PGP "):
            line = lines[index]
            if line.startswith("=") and len(line) == 5:
                checksum = line[1:]
            elif line:
                body.append(line)
            index += 1
        if index >= len(lines):
            raise UsageError(f"the ASCII-armored {what} has no END line", code="sign-bad-key")
        try:
            data = base64.b64decode("".join(body), validate=True)
            expected = int.from_bytes(base64.b64decode(checksum), "big") if checksum else None
        except ValueError:
            raise UsageError(f"the ASCII-armored {what} is not valid base64", code="sign-bad-key") from None
        if expected is not None and expected != _crc24(data):
            raise UsageError(f"the ASCII-armored {what} is damaged (checksum mismatch)", code="sign-bad-key")
        packets += data
        index += 1
    if not packets:
        raise UsageError(f"no ASCII-armored {what} found (-----BEGIN PGP ...-----)", code="sign-bad-key")
    return packets


def _packets(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(tag, body) of each OpenPGP packet (RFC 4880 §4.2)."""
    index = 0
    while index < len(data):
        head = data[index]
        if not head & 0x80:
            raise UsageError("not an OpenPGP keyring (a packet header lacks its high bit)", code="sign-bad-key")
        if head & 0x40:                                  # new format
            tag, first = head & 0x3F, data[index + 1] if index + 1 < len(data) else 0
            if first < 192:
                length, start = first, index + 2
            elif first < 224:
                length, start = ((first - 192) << 8) + data[index + 2] + 192, index + 3
            elif first == 255:
                length, start = int.from_bytes(data[index + 2:index + 6], "big"), index + 6
            else:
                raise UsageError("partial-length packets do not occur in keyrings", code="sign-bad-key")
        else:                                            # old format
            tag, kind = (head >> 2) & 0x0F, head & 0x03
            if kind == 3:
                length, start = len(data) - index - 1, index + 1
            else:
                size = 1 << kind
                length, start = int.from_bytes(data[index + 1:index + 1 + size], "big"), index + 1 + size
        if start + length > len(data):
            raise UsageError("the keyring is truncated", code="sign-bad-key")
        yield tag, data[start:start + length]
        index = start + length


def user_ids(keyring: bytes) -> list[str]:
    return [body.decode("utf-8", "replace") for tag, body in _packets(keyring) if tag == _USER_ID_TAG]


def keyring_bytes(data: bytes, *, what: str = "key") -> bytes:
    """A binary keyring from a file's bytes: as it is, or de-armored."""
    if data[:1] and data[0] & 0x80:
        return data
    return dearmor(data.decode("utf-8", "replace"), what=what)


# -- signing --------------------------------------------------------------------------------------

class Signer:
    """Signs archives with one key: `with Signer(options) as signer: signer.sign(archive)`."""

    def __init__(self, options: SignOptions) -> None:
        self.options = options
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.keyring = Path()
        self.identity = ""
        self.passphrase_file: Path | None = None

    def __enter__(self) -> "Signer":
        environ = self.options.environ
        passphrase = environ.get(PASSPHRASE_ENV) or ""
        register_secret(passphrase)
        if self.options.key_file:
            path = Path(self.options.key_file).expanduser()
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise UsageError(f"cannot read the signing key: {exc.strerror or exc}", path=path,
                                 code="sign-no-key") from None
        else:
            armored = environ.get(SIGNING_KEY_ENV) or ""
            if not armored.strip():
                raise UsageError(f"signing needs a key: set {SIGNING_KEY_ENV} (an ASCII-armored secret key, "
                                 "gpg --armor --export-secret-keys) or publish.sign.key / --sign-key FILE",
                                 code="sign-no-key")
            register_secret(armored)
            for line in armored.splitlines():
                if len(line.strip()) >= 16:
                    register_secret(line.strip())
            data = armored.encode("utf-8")
        keyring = keyring_bytes(data)
        ids = user_ids(keyring)
        wanted = self.options.name
        matching = [uid for uid in ids if wanted in uid] if wanted else ids[:1]
        if not matching:
            raise UsageError(f"no key with a user ID containing {wanted!r} in the signing key (it has: "
                             f"{', '.join(ids) or 'no user ID'})" if wanted else
                             "the signing key has no user ID", code="sign-bad-key")
        self.identity = matching[0]
        self._tmp = tempfile.TemporaryDirectory(prefix="chartgen-sign-")
        folder = Path(self._tmp.name)
        os.chmod(folder, 0o700)
        self.keyring = folder / "secring.gpg"
        self._write_private(self.keyring, keyring)
        if passphrase:
            self.passphrase_file = folder / "passphrase"
            self._write_private(self.passphrase_file, passphrase.encode("utf-8") + b"\n")
        return self

    @staticmethod
    def _write_private(path: Path, data: bytes) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)

    def __exit__(self, *exc) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def sign(self, archive: Path | str) -> Path:
        """Write `<archive>.prov` (replacing one already there); returns its path."""
        import helm_python

        archive = Path(archive)
        target = provenance_path(archive)
        with tempfile.TemporaryDirectory(prefix=".chartgen-sign-", dir=archive.parent) as work:
            staged = Path(work) / archive.name          # Helm writes the .prov next to the archive
            if _same_device(archive, Path(work)):
                os.link(archive, staged)
            else:
                staged.write_bytes(archive.read_bytes())
            try:
                written = helm_python.sign(str(staged), key=self.identity, keyring=str(self.keyring),
                                           passphrase_file=str(self.passphrase_file) if self.passphrase_file else None)
            except helm_python.HelmError as exc:
                hint = "" if self.passphrase_file else f" (a passphrase-protected key needs {PASSPHRASE_ENV})"
                raise ChartgenError(f"signing {archive.name} failed: {redact(str(exc))}{hint}", path=archive,
                                    code="sign-failed") from None
            os.replace(written, target)
        return target


def _same_device(a: Path, b: Path) -> bool:
    try:
        return os.stat(a).st_dev == os.stat(b).st_dev
    except OSError:
        return False


def sign_archives(archives, options: SignOptions, *, only_missing=()) -> list[Path]:
    """Sign every archive; those in `only_missing` only when they have no `.prov` yet (an
    archive packaged before keeps the signature published with it)."""
    keep = set(map(Path, only_missing))
    todo = [Path(a) for a in archives if Path(a) not in keep or not provenance_path(a).is_file()]
    if not todo:
        return []
    with Signer(options) as signer:
        return [signer.sign(archive) for archive in todo]


def after_packaging(results, options: SignOptions | None) -> list[Path]:
    """What follows `package_chart` (results: PackageResult): with `options`, sign each new
    archive (and an unchanged one that has no `.prov` yet); without, remove the `.prov` of an
    archive packaged anew, which no longer matches it. Returns the `.prov` files written."""
    results = list(results)
    if options is None:
        for result in results:
            if not result.unchanged:
                provenance_path(result.path).unlink(missing_ok=True)
        return []
    return sign_archives([r.path for r in results], options, only_missing=[r.path for r in results if r.unchanged])


# -- verifying ------------------------------------------------------------------------------------

def verify_archive(archive: Path | str, keyring: Path | str | None = None, *,
                   provenance: Path | str | None = None) -> Verification:
    """Check `archive` against its `.prov` with Helm's verification (signature by a key of the
    public `keyring`, binary or ASCII-armored, and the archive's SHA-256)."""
    import helm_python

    archive = Path(archive)
    prov = Path(provenance) if provenance else provenance_path(archive)
    if not archive.is_file():
        raise UsageError(f"no chart archive {archive}", path=archive, code="verify-no-archive")
    if not prov.is_file():
        raise ChartgenError(f"{archive.name} has no provenance file ({prov.name}): it was not signed",
                            path=archive, code="provenance-missing")
    keyring_path = Path(keyring or DEFAULT_KEYRING).expanduser()
    try:
        data = keyring_bytes(keyring_path.read_bytes(), what="public key")
    except OSError as exc:
        raise UsageError(f"cannot read the keyring: {exc.strerror or exc}", path=keyring_path,
                         code="verify-keyring") from None
    with tempfile.TemporaryDirectory(prefix="chartgen-verify-") as work:
        ring = Path(work) / "pubring.gpg"
        ring.write_bytes(data)
        try:
            result = helm_python.verify(str(archive), str(ring), provenance_file=str(prov))
        except helm_python.HelmError as exc:
            raise ChartgenError(f"{archive.name} does not verify: {redact(str(exc))}", path=archive,
                                code="provenance-invalid") from None
    return Verification(archive, str(result.get("file_hash", "")), tuple(result.get("signed_by") or ()))
