"""Indexing at scale: an archive is read in one pass (chartgen's own tar reader, which gives
what tarfile gives for every archive), not read again when it was packaged or read before in
the process; chart pages are written for the archives a run adds and every file equals what
writing the whole repository afresh gives; cards made without a previous catalogue (the line
scans of a YAML index) equal those made from fully parsed entries."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings, strategies as st

from chartgen.errors import ChartgenError
from chartgen.repo import archive as archive_module
from chartgen.repo.archive import METADATA_FIELDS, archive_docs, read_archive
from chartgen.repo.catalogue import _brief_of, build_cards, make_card, scan_yaml_head, scan_yaml_versions
from chartgen.repo.reading import _ANCHOR_OR_ALIAS, load_index, parse_index
from chartgen.repo.tarread import _tarfile_members, members
from chartgen.repo.update import update_index
from chartgen.yamlio import load_data
from publish_helpers import make_chart, package

T1 = "2026-12-04T05:32:10.123456789Z"


def _all(name: str, is_file: bool, size: int) -> int:
    return size


def _listing(path: Path, reader) -> list | str:
    try:
        return list(reader(path, _all))
    except Exception as exc:  # noqa: BLE001 - the error itself is compared
        return f"{type(exc).__name__}: {exc}"


def _tar(path: Path, build, *, fmt=tarfile.PAX_FORMAT, compress=True) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        build(tar)
    data = buffer.getvalue()
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


def _add(tar, name, data=b"", kind=tarfile.REGTYPE, **fields):
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, len(data) if kind in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
    for key, value in fields.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if info.size else None)


CHART = b"apiVersion: v2\nname: c\nversion: 1.0.0\n"


def _archives(tmp_path: Path) -> dict[str, Path]:
    """Archives of every kind the reader meets: chartgen's, Helm's, and odd ones."""
    import helm_python

    found = {"chartgen": package(tmp_path / "src", tmp_path / "dist", "hello", "1.0.0")}
    from chartgen.repo.package import package_chart

    long_name = "c/templates/" + "x" * 120 + ".yaml"
    chart = make_chart(tmp_path / "src2", "long", "1.0.0")
    (chart / "templates" / ("z" * 120 + ".yaml")).write_text("a: 1\n")
    (chart / "files").mkdir()
    (chart / "files" / "é-ü.txt").write_text("u\n")
    found["chartgen-long-and-unicode"] = package_chart(chart, tmp_path / "dist2").path
    chart = make_chart(tmp_path / "src3", "helmmade", "1.0.0")
    (chart / "templates").mkdir(exist_ok=True)
    (chart / "templates" / ("y" * 110 + ".yaml")).write_text("a: 1\n")
    found["helm"] = Path(helm_python.package(chart, destination=tmp_path / "helm"))
    odd = tmp_path / "odd"
    odd.mkdir()
    cases = {
        "folders-and-pax": lambda t: (_add(t, "c", kind=tarfile.DIRTYPE), _add(t, "c/Chart.yaml", CHART),
                                      _add(t, long_name, b"x" * 700), _add(t, "c/é.txt", b"u")),
        "gnu-long-names": (lambda t: (_add(t, "c/Chart.yaml", CHART), _add(t, long_name, b"y"))),
        "ustar-prefix": (lambda t: (_add(t, "c/Chart.yaml", CHART), _add(t, "c/" + "p" * 90 + "/" + "q" * 90, b"z"))),
        "links": lambda t: (_add(t, "c/Chart.yaml", CHART), _add(t, "c/l", kind=tarfile.SYMTYPE, linkname="Chart.yaml"),
                            _add(t, "c/h", kind=tarfile.LNKTYPE, linkname="c/Chart.yaml")),
        "old-style-folder": lambda t: (_add(t, "c/", kind=tarfile.AREGTYPE), _add(t, "c/Chart.yaml", CHART)),
        "global-header": lambda t: (_add(t, "g", kind=tarfile.XGLTYPE), _add(t, "c/Chart.yaml", CHART)),
        "unsafe-after-chart": lambda t: (_add(t, "c/Chart.yaml", CHART), _add(t, "c/../../evil", b"!")),
        "two-tops": lambda t: (_add(t, "c/Chart.yaml", CHART), _add(t, "d/x", b"!")),
        "dot-and-slashes": lambda t: (_add(t, "./c//Chart.yaml", CHART), _add(t, "c/./README.md", b"r")),
        "big-uid": lambda t: (_add(t, "c/Chart.yaml", CHART, uid=8 ** 8),),
        "empty": lambda t: None,
    }
    for name, build in cases.items():
        fmt = {"gnu-long-names": tarfile.GNU_FORMAT, "ustar-prefix": tarfile.USTAR_FORMAT,
               "big-uid": tarfile.GNU_FORMAT}.get(name, tarfile.PAX_FORMAT)
        found[name] = _tar(odd / f"{name}.tgz", build, fmt=fmt)
    plain = _tar(odd / "plain.tgz", lambda t: (_add(t, "c/Chart.yaml", CHART), _add(t, "c/values.yaml", b"v: 1\n")))
    raw = plain.read_bytes()
    inner = gzip.decompress(raw)
    variants = {
        "truncated": raw[:len(raw) // 2],
        "bad-crc": raw[:-8] + bytes(8),
        "not-gzip": inner,
        "two-gzip-members": gzip.compress(inner[:512 * 3], mtime=0) + gzip.compress(inner[512 * 3:], mtime=0),
        "garbage-after-end": gzip.compress(inner + b"garbage" * 100, mtime=0),
        "bad-checksum-first": gzip.compress(b"x" + inner[1:], mtime=0),
        "bad-checksum-second": gzip.compress(inner[:1024] + b"y" + inner[1025:], mtime=0),
        "empty-file": b"",
    }
    for name, data in variants.items():
        (odd / f"{name}.tgz").write_bytes(data)
        found[name] = odd / f"{name}.tgz"
    return found


def test_the_tar_reader_lists_what_tarfile_lists(tmp_path):
    for name, path in _archives(tmp_path).items():
        assert _listing(path, members) == _listing(path, _tarfile_members), name


def test_the_tar_reader_agrees_with_tarfile_on_damaged_archives(tmp_path):
    """Single bytes changed anywhere (headers, data, the gzip stream): the same listing or
    the same error as tarfile."""
    raw = package(tmp_path / "src", tmp_path / "dist", "hello", "1.0.0").read_bytes()
    inner = gzip.decompress(raw)
    rng = random.Random(13)
    target = tmp_path / "damaged.tgz"
    for _ in range(150):
        if rng.random() < 0.5:
            data = bytearray(inner)
            data[rng.randrange(min(len(data), 4096))] = rng.randrange(256)
            target.write_bytes(gzip.compress(bytes(data), mtime=0))
        else:
            data = bytearray(raw)
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            target.write_bytes(bytes(data))
        assert _listing(target, members) == _listing(target, _tarfile_members)


def _reference(path: Path):
    """read_archive as tarfile gives it (the archive read to its end)."""
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            if member.name.count("/") == 1 and member.name.endswith("/Chart.yaml"):
                metadata = load_data(tar.extractfile(member).read(), "x")
    kept = {k: metadata[k] for k in METADATA_FIELDS if metadata.get(k) not in (None, "", [], {}, False)}
    return metadata["name"], str(metadata["version"]), hashlib.sha256(path.read_bytes()).hexdigest(), kept


def test_a_big_archive_gives_the_same_entry_and_is_read_once(tmp_path, monkeypatch):
    """An umbrella-sized archive (thousands of members, Chart.yaml among the first): the same
    entry (digest of the whole file) as reading it with tarfile; read once per process, and
    not at all when this process packaged it."""
    from chartgen.repo.package import package_chart

    chart = make_chart(tmp_path / "src", "big", "1.0.0")
    for i in range(2500):
        (chart / "templates" / f"t{i:04d}.yaml").write_text(f"# {i}\n" + "k: v\n" * (i % 7))
    (chart / "README.md").write_text("# big\n")
    archive_module._KNOWN.clear()
    result = package_chart(chart, tmp_path / "dist")
    reads = []
    real = archive_module.members
    monkeypatch.setattr(archive_module, "members", lambda *a: reads.append(a[0]) or real(*a))
    info = read_archive(result.path)   # packaged by this process: not read back
    assert reads == [] and (info.name, info.version, info.digest, dict(info.metadata)) == _reference(result.path)
    assert archive_docs(info)["big/README.md"] == b"# big\n"
    archive_module._KNOWN.clear()
    again = read_archive(result.path)  # read, once
    assert len(reads) == 1 and again == info and dict(again.metadata) == dict(info.metadata)
    assert read_archive(result.path) == info and len(reads) == 1
    copy = tmp_path / "elsewhere" / result.path.name
    copy.parent.mkdir()
    shutil.copy(result.path, copy)
    assert read_archive(copy).path == copy and len(reads) == 1  # the same bytes under another path
    renamed = tmp_path / "elsewhere" / "big-9.9.9.tgz"
    shutil.copy(result.path, renamed)
    with pytest.raises(ChartgenError, match="does not match its chart"):
        read_archive(renamed)


def test_a_packaged_umbrella_in_gzip_members_is_read_as_tarfile_reads_it(tmp_path, monkeypatch):
    """A large umbrella is written one gzip member per sub-chart, warm package cache or not:
    the tar reader lists it as tarfile does without falling back, and the archive noted when
    packaged (its kept sub-charts' files unread) gives the entry a read gives."""
    from chartgen.repo import tarread
    from chartgen.repo.package import package_chart
    from test_package_umbrella import gzip_members, make_umbrella

    umbrella = make_umbrella(tmp_path / "src")
    cache = tmp_path / "cache"
    for run in range(2):   # cold, then warm cache (kept members)
        archive_module._KNOWN.clear()
        result = package_chart(umbrella, tmp_path / f"dist{run}", cache=cache)
        assert len(gzip_members(result.path.read_bytes())) > 2
        noted = read_archive(result.path)
        with monkeypatch.context() as patched:
            patched.setattr(tarread, "_tarfile_members", lambda *a, **k: pytest.fail("fell back to tarfile"))
            plain = list(members(result.path, _all))
        assert plain == _listing(result.path, _tarfile_members)
        archive_module._KNOWN.clear()
        read = read_archive(result.path)
        assert read == noted and dict(read.metadata) == dict(noted.metadata) == _reference(result.path)[3]
        assert archive_docs(read) == archive_docs(noted)


@pytest.mark.parametrize("case, code", [("unsafe-after-chart", "archive-unsafe-path"), ("two-tops", "archive-invalid"),
                                        ("truncated", "archive-corrupt"), ("not-gzip", "archive-corrupt")])
def test_hostile_archives_are_refused_as_before(tmp_path, case, code):
    path = _archives(tmp_path)[case]
    target = path.with_name(f"c-1.0.0.tgz")
    shutil.copy(path, target)
    with pytest.raises(ChartgenError) as caught:
        read_archive(target)
    assert caught.value.code == code


# --- pages: what a run writes equals writing everything afresh -------------------------

def _site_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.endswith(".tgz")}


def _afresh(folder: Path, tmp_path: Path, **options) -> dict[str, bytes]:
    """The same archives indexed into an empty folder (index, catalogue, every page)."""
    fresh = tmp_path / "afresh"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir()
    for archive in folder.glob("*.tgz"):
        shutil.copy(archive, fresh)
    update_index(fresh, "https://e.test/charts", now=T1, **options)
    return _site_files(fresh)


def test_pages_of_a_run_equal_the_pages_of_a_whole_rewrite(tmp_path):
    site = tmp_path / "site"
    for name, version in (("alpha", "1.0.0"), ("alpha", "1.1.0"), ("beta", "0.1.0"), ("gone", "1.0.0")):
        package(tmp_path / "src", site, name, version)
    update_index(site, "https://e.test/charts", now=T1)
    assert _site_files(site) == _afresh(site, tmp_path)
    # a new chart, a new version
    package(tmp_path / "src", site, "gamma", "2.0.0")
    package(tmp_path / "src", site, "beta", "0.2.0")
    result = update_index(site, "https://e.test/charts", now=T1)
    assert set(result.added) == {("gamma", "2.0.0"), ("beta", "0.2.0")}
    assert _site_files(site) == _afresh(site, tmp_path)
    # a version replaced on purpose (another digest): its page follows the new archive
    package(tmp_path / "other", tmp_path / "changed", "alpha", "1.1.0", greeting="Changed")
    shutil.copy(tmp_path / "changed" / "alpha-1.1.0.tgz", site / "alpha-1.1.0.tgz")
    update_index(site, "https://e.test/charts", now=T1, force=True)
    assert (site / "alpha" / "1.1.0" / "values.yaml").read_text() == "greeting: Changed\n"
    assert _site_files(site) == _afresh(site, tmp_path)
    # a chart removed: its archive and its entries go (by hand, or another tool)
    (site / "gone-1.0.0.tgz").unlink()
    data = json.loads((site / "index.yaml").read_text())
    del data["entries"]["gone"]
    (site / "index.yaml").write_text(json.dumps(data))
    package(tmp_path / "src", site, "beta", "0.3.0")
    update_index(site, "https://e.test/charts", now=T1)
    mine = {k: v for k, v in _site_files(site).items() if not k.startswith("gone/")}  # pages of gone versions stay
    fresh = _afresh(site, tmp_path)
    assert mine.keys() == fresh.keys() and mine["catalogue.json"] == fresh["catalogue.json"]
    assert mine["index.html"] == fresh["index.html"] and "gone" not in fresh["index.html"].decode()
    assert {k: v for k, v in mine.items() if k != "index.yaml"} == {k: v for k, v in fresh.items() if k != "index.yaml"}


def test_a_run_rewrites_only_the_pages_of_the_archives_it_adds(tmp_path):
    site = tmp_path / "site"
    for name in ("a", "b", "c"):
        package(tmp_path / "src", site, name, "1.0.0")
    update_index(site, "", now=T1)
    before = {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()}
    package(tmp_path / "src", site, "b", "1.1.0")
    update_index(site, "", now=T1)
    touched = {str(p.relative_to(site)) for p in site.rglob("*") if p.is_file() and before.get(p) != p.stat().st_mtime_ns}
    assert touched == {"b-1.1.0.tgz", "b/1.1.0/index.html", "b/1.1.0/values.yaml", "index.yaml", "index.html",
                       "catalogue.json"}


# --- cards without a previous catalogue ------------------------------------------------

def _cards_from_parsed(text: str) -> list:
    """Cards made from every entry fully parsed (what the line scans stand in for)."""
    entries = yaml.load(text, Loader=yaml.CSafeLoader)["entries"]
    return [make_card(name, entries[name][0], [_brief_of(e) for e in entries[name][1:]]) for name in sorted(entries)
            if entries[name]]


def _without_keys(cards):
    return [card.__class__(**{**card.__dict__, "key": ""}) for card in cards]


_values = st.one_of(st.sampled_from(["1.0.0", "1.10", "true", "yes", "null", "x y", "x: y", "x #y", "'q'", '"d"', "a,b",
                                     "it's", "é", "2026-12-04", "2026-12-04T05:32:10Z", "- x", "@x", "", " lead",
                                     ">=1.36.0 <1.38.0", "https://e.test/x.tgz", "javascript:x", "A " * 60]),
                    st.text(max_size=12))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.from_regex(r"[0-9]\.[0-9]{1,2}\.[0-9](-rc\.[0-9])?", fullmatch=True), _values, _values,
                          _values, _values, st.booleans()), min_size=1, max_size=4),
       st.sampled_from([40, 80, 1000]))
@example([("0.0.0", "1.0.0", "1.0.0", "\x1f\U00010000\U00010000&0", "1.0.0", False)], 40)   # found by CI
def test_cards_without_a_catalogue_equal_cards_from_parsed_entries(rows, width):
    """A YAML index as Helm and PyYAML lay it out (keys sorted, long text folded at `width`):
    the scans of the newest version and of the older ones give the cards the parser gives."""
    versions = [{"apiVersion": "v2", "name": "x", "version": version, "appVersion": app, "description": text,
                 "created": created, "annotations": {"chartgen.io/workflow-type": kind, "other/key": app},
                 "deprecated": deprecated, "home": text, "urls": [f"https://e.test/x-{version}.tgz"],
                 "digest": "0" * 64} for version, app, created, text, kind, deprecated in rows]
    text = yaml.safe_dump({"apiVersion": "v1", "entries": {"x": versions, "y": json.loads(json.dumps(versions[-1:]))},
                           "generated": T1}, sort_keys=True, allow_unicode=True, width=width)
    index = parse_index(text)
    # Read as blocks, not parsed whole; unless a line looks like it starts an anchor or alias (a
    # quoted text folded before an `&`): such an index is parsed whole on purpose.
    assert index._spans or _ANCHOR_OR_ALIAS.search(text)
    assert _without_keys(build_cards(index)) == _cards_from_parsed(text)


def test_the_scans_read_helms_layout_without_the_parser(tmp_path):
    """Helm's own index of chartgen-like charts is read by the scans (the parser is not
    needed for any card), and gives the parser's cards."""
    import helm_python

    for name, version in (("mta", "1.0.0"), ("mta", "1.1.0"), ("move2kube", "0.1.0-rc.1")):
        chart = make_chart(tmp_path / "src", name, version)
        text = (chart / "Chart.yaml").read_text() + ("annotations:\n  chartgen.io/workflow-type: assessment\n"
                                                     "  chartgen.io/operator-versions: '>=1.36.0 <1.38.0'\n")
        (chart / "Chart.yaml").write_text(text)
        helm_python.package(chart, destination=tmp_path / "out")
    helm_python.repo_index_generate(tmp_path / "out", base_url="https://e.test/charts")
    text = (tmp_path / "out" / "index.yaml").read_text()
    index = parse_index(text)
    for name, (start, end) in index._spans.items():
        block = text[start:end]
        assert scan_yaml_head(block) is not None and scan_yaml_versions(block) is not None, name
    assert _without_keys(build_cards(index)) == _cards_from_parsed(text)


# --- the index as written, read back without scanning it again ----------------------------

_descriptions = st.sampled_from(["x", "a: b", "'q'", "multi\nline", "&x", "*y", "é", "x\n  y: z", "}", "\n  }", "#"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["json", "yaml"]),
       st.dictionaries(st.sampled_from(["a", "b", "c-1", "d.x", "1x", "'q'", "b c", "é", "x:y", "#", "-"]),
                       st.lists(_descriptions, min_size=1, max_size=3), min_size=1, max_size=5),
       st.dictionaries(st.sampled_from(["a", "b", "0", "zz", "'q'", "é", "-"]), _descriptions, min_size=1, max_size=3),
       st.booleans())
def test_the_index_as_written_is_read_back_as_reading_it_gives(fmt, charts, additions, header):
    from chartgen.repo.writing import dump_and_read_back, dump_index

    def entry(name, version, description):
        return {"apiVersion": "v2", "name": name, "version": version, "created": T1, "description": description,
                "digest": "0" * 64, "urls": [f"{name}-{version}.tgz"]}

    entries = {name: [entry(name, f"1.{i}.0", d) for i, d in enumerate(texts)] for name, texts in charts.items()}
    text = dump_index(parse_index(json.dumps({"apiVersion": "v1", "entries": entries, "generated": T1})), fmt)
    if header and fmt == "yaml":
        text = text.replace("generated:", "annotations:\n  x: y\ngenerated:")
    index = parse_index(text)
    updates = {name: [*index.versions(name), entry(name, "9.0.0", d)] for name, d in additions.items()}
    written, read = dump_and_read_back(index.with_versions(updates, "2026-12-06T00:00:00Z"), "auto", "p")
    expected = parse_index(written, "p")
    assert (read._source_text, read._spans, read.generated, read.api_version, dict(read.extra), read.source_format) == \
        (expected._source_text, expected._spans, expected.generated, expected.api_version, dict(expected.extra),
         expected.source_format)
    assert {name: read.versions(name) for name in read.entries} == {name: expected.versions(name) for name in expected.entries}


def test_digests_read_off_json_lines_match_the_parsed_entries():
    """`LazyBlocks.digests_of` reads an entry's digest off its line (an umbrella's lines hold
    its dependencies: long) only for a URL naming the archive; anything else is asked of the
    parser (None) or not found."""
    from chartgen.repo.blocks import LazyBlocks

    digest = "a" * 64
    other = "b" * 64
    lines = [
        '{"annotations": {"note": "see x-1.0.0.tgz\\" here"}, "digest": "%s", "name": "x", '
        '"urls": ["https://example.com/charts/x-1.0.1.tgz"], "version": "1.0.1"}' % other,
        '{"dependencies": [{"name": "d", "version": "1"}], "digest": "%s", "name": "x", '
        '"urls": ["x-1.0.0.tgz"], "version": "1.0.0"}' % digest,
    ]
    text = '{\n  "entries": {\n    "x": [\n      ' + ",\n      ".join(lines) + "\n    ]\n  }\n}\n"
    start = text.index('"x": [')
    blocks = LazyBlocks(text, {"x": (start, text.index("\n    ]") + 6)}, "index.yaml", "json")
    assert blocks.digests_of("x", "x-1.0.0.tgz") == [digest]          # not the line that only mentions it
    assert blocks.digests_of("x", "x-1.0.1.tgz") == [other]           # an absolute URL's last part
    assert blocks.digests_of("x", "x-2.0.0.tgz") == []
    assert [e["digest"] for e in blocks["x"] if e["urls"][0].endswith("/x-1.0.1.tgz")] == [other]
    assert blocks.digests_of("x", "x-1.0.0.tgz") is None              # parsed by now: ask the parser
    assert LazyBlocks(text, {"x": (start, len(text))}, "index.yaml", "yaml").digests_of("x", "x-1.0.0.tgz") is None


def test_digests_of_a_block_of_many_versions_read_in_one_pass():
    """Every archive of a block of many versions is found by its URL's last part (a version may
    list several URLs, a URL may name a file of another version); a line laid out otherwise
    sends the whole block to the parser."""
    from chartgen.repo.blocks import LazyBlocks

    def digest(i):
        return f"{i:064x}"

    lines = ['{"digest": "%s", "name": "u", "urls": ["https://a.example/u-%d.tgz", "u-%d.tgz"], "version": "%d"}'
             % (digest(i), i, i, i) for i in range(300)]
    lines.append('{"digest": "%s", "name": "u", "urls": ["mirror/u-7.tgz"], "version": "7+again"}' % digest(999))
    text = '{\n  "entries": {\n    "u": [\n      ' + ",\n      ".join(lines) + "\n    ]\n  }\n}\n"
    span = {"u": (text.index('"u": ['), text.index("\n    ]") + 6)}
    blocks = LazyBlocks(text, span, "index.json", "json")
    assert blocks.digests_of("u", "u-5.tgz") == [digest(5), digest(5)]
    assert blocks.digests_of("u", "u-7.tgz") == [digest(7), digest(7), digest(999)]
    assert blocks.digests_of("u", "u-300.tgz") == []
    odd = text.replace('"urls": ["mirror/u-7.tgz"]', '"urls":\n["mirror/u-7.tgz"]')
    span = {"u": (odd.index('"u": ['), odd.index("\n    ]") + 6)}
    assert LazyBlocks(odd, span, "index.json", "json").digests_of("u", "u-5.tgz") is None
