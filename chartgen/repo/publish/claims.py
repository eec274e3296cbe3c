"""Claiming a chart version in an OCI registry, which has no compare-and-swap for tags.

A published version is immutable, but the OCI distribution API cannot say "create this tag
only if it does not exist": a manifest PUT replaces the tag whoever set it (the registry
used in the tests, distribution 2.8, ignores `If-Match`/`If-None-Match`, and no registry
chartgen knows of honours them). Two publishers of one version with different content
would both see the tag free, both push, and both report success while the registry keeps
the last. So each push is a claim that is confirmed afterwards:

1. **check** the tag right before pushing (its manifest digest; a tag that appeared since
   the first check is pulled and compared: same archive -> nothing to do, other content ->
   refused);
2. **push** (`helm push`), then **read back**: the tag must hold our archive;
3. **confirm** after a settling time (`publish.ociSettle`, seconds): the tag still holds our
   archive. Whoever pushed last keeps the tag; a publisher whose push was overwritten sees
   another archive here and reports the version as taken (`version-immutable`).

Why it works: a rival that overwrote us checked the tag before our push landed (else it
would have refused), so its push landed less than its own check-to-push time after ours;
we read again `settle` seconds after our push. Each publisher measures its own
check-to-push time; one that took longer than `settle` cannot rule out having replaced a
rival that already confirmed, and fails with `publish-oci-unverified` (its archive is
published; rerun to see whose archive the registry kept). The limit: this is detection with
a time bound, not a lock; a publisher that does not follow the protocol (`helm push` by
hand, `--force`) can still replace a confirmed version afterwards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from chartgen.errors import ChartgenError, Finding, redact
from chartgen.fsutil import foreign_temps_watched
from chartgen.repo.archive import ArchiveInfo, sha256_file

SETTLE_SECONDS = 3.0   # default of publish.ociSettle


def tag_of(version: str) -> str:
    """The OCI tag Helm gives a chart version (`+` is not allowed in tags)."""
    return version.replace("+", "_")


@dataclass(frozen=True)
class Tagged:
    manifest: str   # manifest digest the tag points to
    archive: str    # SHA-256 of the chart archive in that manifest


class Registry:
    """Reads of chart tags through a helm-python-sdk RegistryClient."""

    def __init__(self, client, helm, plain_http: bool, scratch: Path) -> None:
        self.client, self.helm, self.plain_http, self.scratch = client, helm, plain_http, scratch

    def manifest(self, reference: str, version: str) -> str | None:
        """Digest of the manifest tagged `version`, or None when there is no such tag."""
        try:
            return str(self.client.resolve(f"{reference}:{tag_of(version)}")["digest"])
        except self.helm.HelmError as exc:
            if isinstance(exc, getattr(self.helm, "HelmNotFoundError", ())) or "not found" in str(exc).lower():
                return None
            raise ChartgenError(f"cannot read {reference}:{tag_of(version)}: {redact(str(exc))}",
                                code="publish-oci") from None

    def read(self, reference: str, version: str) -> Tagged | None:
        """What the tag holds now: its manifest and the archive in it (pulled by digest, so
        the two belong together even if the tag moves meanwhile)."""
        manifest = self.manifest(reference, version)
        if manifest is None:
            return None
        self.scratch.mkdir(parents=True, exist_ok=True)
        try:
            with foreign_temps_watched():
                self.client.pull(f"{reference}@{manifest}", destination=str(self.scratch),
                                 plain_http=self.plain_http)
        except self.helm.HelmError as exc:
            raise ChartgenError(f"cannot read back {reference}:{tag_of(version)}: {redact(str(exc))}",
                                code="publish-oci") from None
        pulled = sorted(self.scratch.glob("*.tgz"))
        if not pulled:
            raise ChartgenError(f"pulling {reference}@{manifest} gave no archive", code="publish-oci")
        digest = sha256_file(pulled[0])
        for file in pulled:
            file.unlink()
        return Tagged(manifest, digest)


@dataclass(frozen=True)
class Claim:
    info: ArchiveInfo
    reference: str
    manifest: str       # our manifest, as read back after the push
    replaced: bool      # the tag held other content before (--force)
    span: float         # seconds from the last check of the tag to the end of our push
    pushed_at: float    # time.monotonic() at the end of our push


def taken_error(info: ArchiveInfo, reference: str, other: str) -> Finding:
    return Finding(str(info.path), 0, 0, "error",
                   f"{info.name} {info.version} was published to {reference} by someone else while this run "
                   f"published it (their archive has digest {other[:19]}..., this one {info.digest[:19]}...); "
                   "the registry keeps theirs and published versions are immutable: bump the chart version",
                   "version-immutable")


def claim(registry: Registry, reference: str, info: ArchiveInfo, seen: Tagged | None, *, force: bool,
          push) -> Claim | None:
    """Check, push, read back (steps 1-2). None: the archive was there already. `seen`: the
    tag at the first check. Raises ChartgenError (`version-immutable`) when it is taken."""
    started = time.monotonic()
    now = registry.manifest(reference, info.version)
    if now != (seen.manifest if seen else None):      # published since the first check
        current = registry.read(reference, info.version)
        if current is not None and current.archive == info.digest:
            return None
        if current is not None and not force:
            raise ChartgenError(findings=[taken_error(info, reference, current.archive)])
    try:
        push()
    except ChartgenError:
        # Two publishers of the same archive at once: the registry may fail one upload of the
        # shared blobs. The tag holding our very archive is the same as having pushed it.
        current = registry.read(reference, info.version)
        if current is not None and current.archive == info.digest:
            return None
        push()     # a transient failure; a second one is reported
    pushed_at = time.monotonic()
    after = registry.read(reference, info.version)
    if after is None or after.archive != info.digest:
        raise ChartgenError(findings=[taken_error(info, reference, after.archive if after else "(removed)")])
    return Claim(info, reference, after.manifest, seen is not None or now is not None, pushed_at - started,
                 pushed_at)


def confirm(registry: Registry, claims: list[Claim], settle: float) -> list[Finding]:
    """Step 3: after `settle` seconds, each claimed tag must still hold our archive. Returns
    the findings: versions taken by a rival, and claims too slow to vouch for."""
    if not claims:
        return []
    time.sleep(max(0.0, max(c.pushed_at for c in claims) + settle - time.monotonic()))
    problems = []
    for item in claims:
        now = registry.manifest(item.reference, item.info.version)
        if now != item.manifest:
            current = registry.read(item.reference, item.info.version)
            if current is None or current.archive != item.info.digest:
                problems.append(taken_error(item.info, item.reference, current.archive if current else "(removed)"))
                continue
        if item.span > settle:
            problems.append(Finding(
                str(item.info.path), 0, 0, "error",
                f"{item.info.name} {item.info.version} is pushed to {item.reference}, but checking and pushing "
                f"took {item.span:.1f} s, longer than publish.ociSettle ({settle:g} s): another publisher of "
                "this version may have been replaced unnoticed. Rerun to check which archive the registry "
                "kept, and raise publish.ociSettle for this registry", "publish-oci-unverified"))
    return problems
