"""Helm provenance: `chartgen package --sign` writes `<archive>.prov` with a throwaway key made
by gpg in the test, Helm's own verification (`chartgen verify`, helm-python-sdk's verify, the
code of `helm verify`) accepts it, and publishing carries it next to the archive (dir, git) or
as the OCI provenance layer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO, need_tool
from oci_registry import registry  # noqa: F401  (session fixture)
from publish_helpers import init_bare, package, read_branch_file

PROV_MEDIA_TYPE = "application/vnd.cncf.helm.chart.provenance.v1.prov"


@dataclass(frozen=True)
class Key:
    armored_secret: str
    secret_keyring: Path       # binary, gpg --export-secret-keys
    public_keyring: Path       # binary, gpg --export
    armored_public: Path
    user_id: str


def _make_key(folder: Path, user_id: str, passphrase: str = "") -> Key:
    gpg = need_tool("gpg")
    home = folder / "gnupg"
    home.mkdir(parents=True)
    os.chmod(home, 0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    run = lambda *args, **kw: subprocess.run([gpg, "--batch", "--pinentry-mode", "loopback", "--passphrase",
                                              passphrase, *args], env=env, check=True, capture_output=True, **kw)
    run("--quick-gen-key", user_id, "rsa2048", "sign", "never")
    key = Key(run("--armor", "--export-secret-keys").stdout.decode(), folder / "secring.gpg", folder / "pubring.gpg",
              folder / "public.asc", user_id)
    key.secret_keyring.write_bytes(run("--export-secret-keys").stdout)
    key.public_keyring.write_bytes(run("--export").stdout)
    key.armored_public.write_bytes(run("--armor", "--export").stdout)
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, capture_output=True)
    return key


@pytest.fixture(scope="module")
def key(tmp_path_factory) -> Key:
    return _make_key(tmp_path_factory.mktemp("key"), "Chart Signer <signer@example.test>")


@pytest.fixture(scope="module")
def other_key(tmp_path_factory) -> Key:
    return _make_key(tmp_path_factory.mktemp("other"), "Someone Else <else@example.test>")


@pytest.fixture(scope="module")
def protected_key(tmp_path_factory) -> Key:
    return _make_key(tmp_path_factory.mktemp("protected"), "Guarded <guarded@example.test>",
                     passphrase="correct horse battery")


def make_project(tmp_path: Path, extra: str = "") -> Path:
    root = tmp_path / "repo"
    (root / "workflow_sources").mkdir(parents=True)
    for name in ("greeting", "shared"):
        shutil.copytree(REPO / "workflow_sources" / name, root / "workflow_sources" / name)
    (root / "chartgen.yaml").write_text("sources: workflow_sources\nshared: workflow_sources/shared\n"
                                        "charts: charts\ndist: dist\n" + extra)
    return root


@dataclass(frozen=True)
class Run:
    exit_code: int
    output: str         # stdout, then stderr


def cli(root: Path, *args: str, env: dict | None = None) -> Run:
    """`chartgen --config ROOT/chartgen.yaml ARGS` as a user runs it (exit codes, stderr)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CHARTGEN_SIGNING")}
    done = subprocess.run([sys.executable, "-m", "chartgen", "--config", str(root / "chartgen.yaml"), *args],
                          capture_output=True, text=True, timeout=300,
                          env={**base, "PYTHONPATH": str(REPO), **(env or {})})
    return Run(done.returncode, done.stdout + done.stderr)


def chart_and_package(root: Path, *args: str, env: dict | None = None):
    assert cli(root, "chart", "greeting").exit_code == 0
    return cli(root, "package", *args, env=env)


def test_sign_with_the_key_from_the_environment_and_verify(tmp_path, key):
    import helm_python

    root = make_project(tmp_path)
    result = chart_and_package(root, "--sign", env={"CHARTGEN_SIGNING_KEY": key.armored_secret})
    assert result.exit_code == 0, result.output
    archives = sorted((root / "dist").glob("*.tgz"))
    assert [a.name for a in archives] == ["greeting-0.1.0-rc.1.tgz", "workflows-0.1.0-rc.1.tgz"]
    for archive in archives:
        prov = Path(f"{archive}.prov").read_text()
        assert prov.startswith("-----BEGIN PGP SIGNED MESSAGE-----")
        assert f"{archive.name}: sha256:" in prov and "name: " in prov
    assert "signed" in result.output and key.armored_secret.splitlines()[3] not in result.output
    # Helm's verification (helm verify's code) accepts it, with a binary or an armored keyring
    checked = helm_python.verify(str(archives[0]), str(key.public_keyring))
    assert checked["signed_by"] == [key.user_id]
    verified = cli(root, "verify", *map(str, archives), "--keyring", str(key.armored_public))
    assert verified.exit_code == 0, verified.output
    assert verified.output.count(f"verified, signed by {key.user_id}") == 2
    # nothing of the key is left in the temporary folders
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("chartgen-sign-*"))


def test_tampered_unsigned_and_foreign_archives_fail(tmp_path, key, other_key):
    root = make_project(tmp_path)
    assert chart_and_package(root, "--sign", env={"CHARTGEN_SIGNING_KEY": key.armored_secret}).exit_code == 0
    archive = root / "dist" / "greeting-0.1.0-rc.1.tgz"
    wrong_key = cli(root, "verify", str(archive), "--keyring", str(other_key.public_keyring))
    assert wrong_key.exit_code == 1 and "[provenance-invalid]" in wrong_key.output
    tampered = tmp_path / "greeting-0.1.0-rc.1.tgz"
    tampered.write_bytes(archive.read_bytes() + b"\0")
    shutil.copy(f"{archive}.prov", f"{tampered}.prov")
    bad = cli(root, "verify", str(tampered), "--keyring", str(key.public_keyring))
    assert bad.exit_code == 1 and "[provenance-invalid]" in bad.output
    os.unlink(f"{tampered}.prov")
    unsigned = cli(root, "verify", str(tampered), "--keyring", str(key.public_keyring), "--format", "json")
    assert unsigned.exit_code == 1 and json.loads(unsigned.output)["failed"][0]["code"] == "provenance-missing"


def test_key_file_name_and_passphrase_from_settings(tmp_path, key, protected_key):
    both = tmp_path / "both.gpg"
    both.write_bytes(key.secret_keyring.read_bytes() + protected_key.secret_keyring.read_bytes())
    root = make_project(tmp_path, f"publish:\n  sign: {{enabled: true, key: {both}, name: guarded@}}\n")
    locked = chart_and_package(root)
    assert locked.exit_code == 1 and "[sign-failed]" in locked.output and "CHARTGEN_SIGNING_PASSPHRASE" in locked.output
    passphrase = "correct horse battery"
    result = cli(root, "package", env={"CHARTGEN_SIGNING_PASSPHRASE": passphrase})
    assert result.exit_code == 0, result.output
    assert passphrase not in result.output
    archive = root / "dist" / "greeting-0.1.0-rc.1.tgz"
    ok = cli(root, "verify", str(archive), "--keyring", str(protected_key.armored_public))
    assert ok.exit_code == 0 and "Guarded" in ok.output


def test_signing_problems_are_usage_errors(tmp_path, key):
    root = make_project(tmp_path)
    no_key = chart_and_package(root, "--sign")
    assert no_key.exit_code == 2 and "[sign-no-key]" in no_key.output and "CHARTGEN_SIGNING_KEY" in no_key.output
    unknown = cli(root, "package", "--sign", "--sign-name", "nobody", env={"CHARTGEN_SIGNING_KEY": key.armored_secret})
    assert unknown.exit_code == 2 and "[sign-bad-key]" in unknown.output and key.user_id in unknown.output
    lines = key.armored_secret.splitlines()
    damaged = "\n".join(lines[:5] + [lines[5][:-4] + "AAAA"] + lines[6:])
    broken = cli(root, "package", "--sign", env={"CHARTGEN_SIGNING_KEY": damaged})
    assert broken.exit_code == 2 and "[sign-bad-key]" in broken.output
    assert not any(line in broken.output for line in lines if len(line) >= 16)
    assert not list((root / "dist").glob("*.prov"))


def test_repackaging_without_signing_drops_a_stale_signature(tmp_path, key):
    from chartgen.repo.package import package_chart
    from chartgen.repo.provenance import SignOptions, after_packaging, provenance_path

    dist = tmp_path / "dist"
    archive = package(tmp_path / "s", dist)           # the chart is tmp_path/s/hello
    chart = tmp_path / "s" / "hello"
    options = SignOptions(env={"CHARTGEN_SIGNING_KEY": key.armored_secret})
    assert after_packaging([package_chart(chart, dist)], options) == [provenance_path(archive)]  # unchanged, unsigned
    assert after_packaging([package_chart(chart, dist)], options) == []                         # keeps its .prov
    (chart / "values.yaml").write_text("greeting: Changed\n")
    after_packaging([package_chart(chart, dist, force=True)], None)
    assert not provenance_path(archive).exists()


def _signed_archive(tmp_path: Path, key: Key, name="hello", version="1.0.0") -> Path:
    from chartgen.repo.provenance import SignOptions, sign_archives

    archive = package(tmp_path / "s", tmp_path / "dist", name, version)
    sign_archives([archive], SignOptions(env={"CHARTGEN_SIGNING_KEY": key.armored_secret}))
    return archive


def test_dir_publish_puts_the_provenance_next_to_the_archive(tmp_path, key):
    from chartgen.repo.provenance import verify_archive
    from chartgen.repo.publish import publish

    archive = _signed_archive(tmp_path, key)
    repo = tmp_path / "repo"
    publish([archive], f"dir:{repo}")
    assert (repo / "hello-1.0.0.tgz.prov").read_bytes() == Path(f"{archive}.prov").read_bytes()
    assert verify_archive(repo / "hello-1.0.0.tgz", key.public_keyring).signed_by == (key.user_id,)
    index = (repo / "index.yaml").read_text()
    assert ".prov" not in index                     # index entries are unchanged
    # an unchanged archive keeps the signature published with it
    published = (repo / "hello-1.0.0.tgz.prov").read_bytes()
    _signed_archive(tmp_path, key)                  # same archive, a new signature
    publish([archive], f"dir:{repo}")
    assert (repo / "hello-1.0.0.tgz.prov").read_bytes() == published


def test_git_publish_commits_the_provenance(tmp_path, key):
    from chartgen.repo.publish import publish

    need_tool("git")
    bare = init_bare(tmp_path / "charts.git")
    archive = _signed_archive(tmp_path, key)
    publish([archive], f"git:{bare}#gh-pages:docs")
    assert read_branch_file(bare, "gh-pages", "docs/hello-1.0.0.tgz.prov") == Path(f"{archive}.prov").read_bytes()
    second = _signed_archive(tmp_path, key, version="1.1.0")
    publish([second], f"git:{bare}#gh-pages:docs")
    assert read_branch_file(bare, "gh-pages", "docs/hello-1.0.0.tgz.prov") is not None
    assert read_branch_file(bare, "gh-pages", "docs/hello-1.1.0.tgz.prov") == Path(f"{second}.prov").read_bytes()


def test_oci_publish_pushes_the_provenance_layer(tmp_path, key, registry):  # noqa: F811
    import helm_python

    from chartgen.repo.publish import publish

    archive = _signed_archive(tmp_path, key)
    publish([archive], f"oci://{registry}/charts")
    request = urllib.request.Request(f"http://{registry}/v2/charts/hello/manifests/1.0.0",
                                     headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    manifest = json.load(urllib.request.urlopen(request, timeout=10))
    (layer,) = [layer for layer in manifest["layers"] if layer["mediaType"] == PROV_MEDIA_TYPE]
    blob = urllib.request.urlopen(f"http://{registry}/v2/charts/hello/blobs/{layer['digest']}", timeout=10).read()
    assert blob == Path(f"{archive}.prov").read_bytes()
    # what `helm pull --verify` does: the pulled chart verifies against the pushed provenance
    pulled = tmp_path / "pulled"
    pulled.mkdir()
    helm_python.pull(f"oci://{registry}/charts/hello", version="1.0.0", destination=str(pulled), plain_http=True)
    (pulled / "hello-1.0.0.tgz.prov").write_bytes(blob)
    assert helm_python.verify(str(pulled / "hello-1.0.0.tgz"), str(key.public_keyring))["signed_by"] == [key.user_id]


def test_build_signs_every_archive_when_configured(tmp_path, key):
    root = make_project(tmp_path, "publish:\n  sign: {enabled: true}\n")
    result = cli(root, "build", "greeting", env={"CHARTGEN_SIGNING_KEY": key.armored_secret})
    assert result.exit_code == 0, result.output
    archives = sorted((root / "dist").glob("*.tgz"))
    assert len(archives) == 2 and all(Path(f"{a}.prov").is_file() for a in archives)
    verified = cli(root, "verify", *map(str, archives), "--keyring", str(key.public_keyring))
    assert verified.exit_code == 0, verified.output


def test_dearmor_and_user_ids(key):
    from chartgen.errors import UsageError
    from chartgen.repo.provenance import dearmor, keyring_bytes, user_ids

    assert dearmor(key.armored_secret) == key.secret_keyring.read_bytes()
    assert user_ids(keyring_bytes(key.secret_keyring.read_bytes())) == [key.user_id]
    with pytest.raises(UsageError):
        dearmor("no key here")
    with pytest.raises(UsageError):
        user_ids(b"\x01\x02")
