"""Property tests: the incremental (lazy, spliced) index paths give exactly what a full
parse and a full rewrite give, for YAML and JSON indexes."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chartgen.repo.archive import ArchiveInfo
from chartgen.repo.index import IndexFile, add_archives
from chartgen.repo.reading import parse_index
from chartgen.repo.versions import sort_versions
from chartgen.repo.writing import dump_index
from chartgen.yamlio import dump_yaml

NAMES = st.sampled_from(["a", "alpha", "b-chart", "hello", "m", "zulu", "x.y", "w_1"])
VERSIONS = st.builds(lambda a, b, c, pre: f"{a}.{b}.{c}" + (f"-rc.{pre}" if pre is not None else ""),
                     st.integers(0, 3), st.integers(0, 12), st.integers(0, 3),
                     st.one_of(st.none(), st.integers(0, 11)))
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)


def entry(name: str, version: str, description: str, n: int) -> dict:
    return {"apiVersion": "v2", "created": f"2025-01-01T00:00:{n % 60:02d}Z", "description": description,
            "digest": f"{n:064x}", "name": name, "urls": [f"{name}-{version}.tgz"], "version": version,
            "annotations": {"orchestrator.io/operator-versions": ">=1.5 <1.7"}}


indexes = st.dictionaries(NAMES, st.lists(st.tuples(VERSIONS, TEXT), max_size=4, unique_by=lambda t: t[0]),
                          max_size=5)
additions = st.lists(st.tuples(NAMES, VERSIONS, TEXT), max_size=4, unique_by=lambda t: (t[0], t[1]))


def build(charts) -> dict:
    n = 0
    data = {}
    for name, items in charts.items():
        versions = []
        for version, description in items:
            n += 1
            versions.append(entry(name, version, description, n))
        data[name] = sort_versions(versions)
    return data


def helm_like_yaml(data: dict) -> str:
    return dump_yaml({"apiVersion": "v1", "entries": data, "generated": "2025-01-01T00:00:00Z"})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(indexes, additions, st.sampled_from(["yaml", "json"]))
def test_lazy_update_equals_full_update(charts, adds, fmt):
    data = build(charts)
    if fmt == "yaml":
        text = helm_like_yaml(data)
    else:
        text = dump_index(IndexFile({k: tuple(v) for k, v in data.items()}, "2025-01-01T00:00:00Z"), "json")
    lazy = parse_index(text)
    if data and all(data.values()) and not any(c in text for c in "&*"):
        assert lazy._spans, "the regular layout must take the incremental path"
    full = IndexFile({k: tuple(v) for k, v in data.items()}, "2025-01-01T00:00:00Z", source_format=fmt)
    assert dump_index(lazy, fmt) == text or fmt == "yaml" and not data  # untouched: the same bytes
    infos = []
    for i, (name, version, description) in enumerate(adds):
        meta = {"apiVersion": "v2", "description": description, "name": name, "version": version}
        digest = f"{10_000 + i:064x}"
        existing = full.get(name, version)
        if existing is not None:
            digest = existing["digest"]  # re-adding a published version unchanged
        infos.append(ArchiveInfo(Path(f"{name}-{version}.tgz"), name, version, digest, meta))
    lazy_result = add_archives(lazy, infos, None, now="2026-01-01T00:00:00Z")
    full_result = add_archives(full, infos, None, now="2026-01-01T00:00:00Z")
    assert (lazy_result.added, lazy_result.unchanged) == (full_result.added, full_result.unchanged)
    written = dump_index(lazy_result.index, fmt)
    reread = json.loads(written) if fmt == "json" else yaml.safe_load(written)
    expected = {k: list(v) for k, v in full_result.index.entries.items()}
    assert {k: v for k, v in reread["entries"].items()} == expected
    assert list(reread["entries"]) == sorted(reread["entries"]) or fmt == "yaml"
    if lazy_result.added:
        assert reread["generated"] == "2026-01-01T00:00:00Z"
    # and a second, lazy read of what was written agrees too
    again = parse_index(written)
    assert {k: list(again.entries[k]) for k in again.entries} == expected
