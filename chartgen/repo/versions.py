"""Chart version order as Helm reads it (Masterminds SemVer): newest first, unparsable last."""

from __future__ import annotations

import functools
from typing import Iterable


@functools.lru_cache(maxsize=65536)
def parse_version(version: str):
    """SemVer of a chart version as Helm (Masterminds) reads it: optional `v`, optional
    minor/patch. None when it is not a version."""
    import semver

    text = str(version).strip()
    if text[:1] in ("v", "V"):
        text = text[1:]
    try:
        return semver.Version.parse(text, optional_minor_and_patch=True)
    except (ValueError, TypeError):
        return None


def _compare_newest_first(a: dict, b: dict) -> int:
    va, vb = str(a.get("version", "")), str(b.get("version", ""))
    pa, pb = parse_version(va), parse_version(vb)
    if pa is not None and pb is not None:
        order = pb.compare(pa)
        if order:
            return order
    elif pa is not None:
        return -1
    elif pb is not None:
        return 1
    # equal precedence (build metadata) or both unparsable: a fixed order by text
    return (va < vb) - (va > vb)


def sort_versions(entries: Iterable[dict]) -> list[dict]:
    """Newest SemVer first, unparsable versions last; deterministic for ties."""
    return sorted(entries, key=functools.cmp_to_key(_compare_newest_first))


def same_version(a: str, b: str) -> bool:
    """Helm's `IndexFile.Has`: exact text, or the same SemVer (`v1.2.3` == `1.2.3`)."""
    if a == b:
        return True
    pa, pb = parse_version(a), parse_version(b)
    return pa is not None and pb is not None and pa.compare(pb) == 0 and pa.build == pb.build


def is_newer(a: str, b: str) -> bool:
    """True when version `a` sorts above `b` as Helm orders them; an unparsable `a` never does,
    an unparsable `b` is below any version."""
    pa, pb = parse_version(a), parse_version(b)
    return pa is not None and (pb is None or pa.compare(pb) > 0)
