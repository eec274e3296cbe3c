"""Output stamps (chartgen.build.stamps): a rerun stats the paths a previous run recorded
instead of walking every chart, and still notices every change a walk would."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from chartgen.build import stamps
from chartgen.build.options import BuildOptions
from chartgen.build.runner import build
from chartgen.config import load_config
from tests.conftest import REPO


def _tree(root: Path) -> Path:
    (root / "templates" / "deep").mkdir(parents=True)
    (root / "Chart.yaml").write_text("name: x\n")
    (root / "templates" / "a.yaml").write_text("a: 1\n")
    (root / "templates" / "deep" / "b.yaml").write_text("b: 2\n")
    return root


@pytest.mark.parametrize("change", ["edit in place", "same size edit", "add nested", "remove", "replace",
                                    "add folder", "rename"])
def test_a_recorded_stamp_sees_what_a_walk_sees(tmp_path, change):
    root = _tree(tmp_path / "chart")
    stamps.forget()
    before, entries = stamps.tree_stamp(root)
    assert entries.split(stamps.SEP) == ["", "Chart.yaml", "templates/", "templates/a.yaml", "templates/deep/",
                                   "templates/deep/b.yaml"]
    stamps.forget()
    assert stamps.tree_stamp(root, entries) == (before, entries)     # nothing changed: the same
    os.utime(root / "templates" / "deep", ns=(1, 1))                 # folder times set back: a change too
    stamps.forget()
    assert stamps.tree_stamp(root, entries)[0] != before
    root = _tree(tmp_path / "again")
    stamps.forget()
    before, entries = stamps.tree_stamp(root)
    deep = root / "templates" / "deep"
    if change == "edit in place":
        with (deep / "b.yaml").open("a") as handle:
            handle.write("c: 3\n")
    elif change == "same size edit":
        info = (deep / "b.yaml").stat()
        (deep / "b.yaml").write_text("b: 9\n")
        os.utime(deep / "b.yaml", ns=(info.st_atime_ns, info.st_mtime_ns + 1))
    elif change == "add nested":
        (deep / "new.yaml").write_text("")
    elif change == "remove":
        (deep / "b.yaml").unlink()
    elif change == "replace":
        (deep / "tmp").write_text("b: 2\n")
        os.replace(deep / "tmp", deep / "b.yaml")
    elif change == "add folder":
        (deep / "more").mkdir()
    elif change == "rename":
        os.rename(deep / "b.yaml", deep / "c.yaml")
    stamps.forget()
    recorded, _ = stamps.tree_stamp(root, entries)
    stamps.forget()
    walked, _ = stamps.tree_stamp(root)
    assert recorded != before and walked != before


def test_umbrella_entries_leave_out_linked_copies_only(tmp_path):
    charts = tmp_path / "charts"
    source = _tree(charts / "one")
    umbrella = charts / "workflows"
    (umbrella / "charts" / "one" / "templates" / "deep").mkdir(parents=True)
    (umbrella / "Chart.yaml").write_text("name: workflows\n")
    (umbrella / "charts" / "one" / "Chart.yaml").write_text("name: x\n")           # written, not linked
    os.link(source / "templates" / "a.yaml", umbrella / "charts" / "one" / "templates" / "a.yaml")
    shutil.copy(source / "templates" / "deep" / "b.yaml", umbrella / "charts" / "one" / "templates" / "deep")
    entries = stamps.umbrella_entries(umbrella, charts).split(stamps.SEP)
    assert entries == ["", "Chart.yaml", "charts/", "charts/one/", "charts/one/Chart.yaml", "charts/one/templates/",
                       "charts/one/templates/deep/", "charts/one/templates/deep/b.yaml"]


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(REPO / "workflow_sources", root / "workflow_sources")
    (root / "chartgen.yaml").write_text("build:\n  executor: thread\n")
    return root


def _run(root: Path):
    config = load_config(root / "chartgen.yaml")
    folders = sorted(p for p in (root / "workflow_sources").iterdir() if p.is_dir() and p.name != "shared")
    return build(folders, config, BuildOptions())


def test_a_file_added_deep_in_a_chart_or_an_umbrella_copy_is_noticed(tmp_path):
    root = _repo(tmp_path)
    assert _run(root).ok
    second = _run(root)
    assert second.cached and set(second.cached) == {w.name for w in second.workflows}
    assert [r.stage for r in second.repository] == ["umbrella", "index"]
    recorded = json.loads((root / ".chartgen/cache.json").read_text())
    assert "templates/" in recorded["workflows"]["greeting"]["entries"].split(stamps.SEP)
    # A file added two folders down in a workflow chart: the workflow is looked at again
    # (and refuses to overwrite what it did not write).
    extra = root / "charts" / "greeting" / "templates" / "extra.yaml"
    extra.write_text("kind: ConfigMap\n")
    third = _run(root)
    assert "greeting" not in third.cached
    extra.unlink()
    assert _run(root).ok
    # A file of the umbrella's copy replaced by a copy with other content: the umbrella is made again.
    copy = root / "charts" / "workflows" / "charts" / "greeting" / "values.yaml"
    original = copy.read_bytes()
    copy.unlink()
    copy.write_bytes(original + b"# tampered\n")
    fourth = _run(root)
    assert fourth.ok and set(fourth.cached) == {w.name for w in fourth.workflows}
    assert copy.read_bytes() == original
    assert copy.stat().st_ino == (root / "charts" / "greeting" / "values.yaml").stat().st_ino


def test_memos_survive_a_run_that_did_not_need_them(tmp_path, monkeypatch):
    """A no-op rerun replays umbrella and index without reading a Chart.yaml or archive; the
    data kept for those (by file stamp) must still be there for the next run that needs it."""
    import chartgen.fsutil

    monkeypatch.setattr(chartgen.fsutil, "SETTLED_NS", -1)   # files of the last seconds trusted too
    root = _repo(tmp_path)
    _run(root)
    _run(root)
    before = json.loads((root / ".chartgen/cache.json").read_text())
    assert before["chart_yamls"] and before["digests"] and before["files"]
    _run(root)
    after = json.loads((root / ".chartgen/cache.json").read_text())
    for memo in ("chart_yamls", "digests", "files"):
        assert after[memo] == before[memo], memo
    assert not [path for path in after["files"] if "/charts/" in path]    # of no use (see memo_to_keep)


def test_umbrella_entries_taken_over_from_before_the_write_are_what_a_walk_finds(tmp_path):
    """After one workflow changed, the umbrella's record reuses the entries of the copies it
    moved unchanged: they must be exactly what walking the new umbrella finds."""
    root = _repo(tmp_path)
    _run(root)
    _run(root)
    with (root / "workflow_sources" / "greeting" / "application.properties").open("a") as handle:
        handle.write("\nchanged.by.test=1\n")
    report = _run(root)
    assert report.ok and "greeting" not in report.cached
    assert [r.message for r in report.repository][0].startswith("workflows ")
    recorded = json.loads((root / ".chartgen/cache.json").read_text())["repository"]["umbrella"]["entries"]
    stamps.forget()
    assert recorded == stamps.umbrella_entries(root / "charts" / "workflows", root / "charts")
    assert "charts/mta/templates/" in recorded.split(stamps.SEP)
    assert "charts/mta/values.yaml" not in recorded.split(stamps.SEP)      # a link: its source's stamp covers it


def test_a_workflow_folder_is_hashed_again_only_when_its_stamp_changed(tmp_path, monkeypatch):
    import chartgen.build.cache as cache_module
    import chartgen.fsutil

    monkeypatch.setattr(chartgen.fsutil, "SETTLED_NS", -1)
    root = _repo(tmp_path)
    _run(root)
    recorded = json.loads((root / ".chartgen/cache.json").read_text())["sources"]
    mta = os.fspath(root / "workflow_sources" / "mta")
    assert "specs/" in recorded[mta][0].split(stamps.SEP)
    hashed = []
    real = cache_module._hash_tree
    monkeypatch.setattr(cache_module, "_hash_tree", lambda folder, *a, **k: (hashed.append(folder.name),
                                                                             real(folder, *a, **k))[1])
    assert set(_run(root).cached) == {"escalation", "greeting", "move2kube", "mta"}
    assert "mta" not in hashed                       # its stamp vouched for it
    spec = next((root / "workflow_sources" / "mta" / "specs").iterdir())
    with spec.open("a") as handle:                   # edited in place, two folders down
        handle.write("\n# changed\n")
    assert "mta" not in _run(root).cached
    (root / "workflow_sources" / "mta" / "specs" / "notes.txt").write_text("x")   # a new file
    hashed.clear()
    report = _run(root)
    assert "mta" in hashed and "greeting" not in hashed
    assert report.workflows[[w.name for w in report.workflows].index("mta")].ok


def test_the_umbrella_chart_yaml_kept_by_content_survives_a_rerun_with_nothing_to_do(tmp_path):
    """Just written, the umbrella's Chart.yaml is kept by its bytes (its time is too recent to
    trust); a rerun that replays the umbrella reads it not, and must keep it for the next one."""
    import hashlib

    root = _repo(tmp_path)
    _run(root)
    key = "sha256:" + hashlib.sha256((root / "charts/workflows/Chart.yaml").read_bytes()).hexdigest()
    assert key in json.loads((root / ".chartgen/cache.json").read_text())["chart_yamls"]
    again = _run(root)
    assert set(again.cached) == {w.name for w in again.workflows}
    assert key in json.loads((root / ".chartgen/cache.json").read_text())["chart_yamls"]


def test_a_file_name_with_a_line_break_is_stamped_as_any_other(tmp_path, monkeypatch):
    """Entries are joined by NUL, the one character no name holds: a name with a line break
    is one entry, stat-ed as itself, so its in-place edit is seen."""
    import chartgen.fsutil

    monkeypatch.setattr(chartgen.fsutil, "SETTLED_NS", -1)
    root = _tree(tmp_path / "chart")
    odd = root / "templates" / "two\nlines.txt"
    odd.write_text("one")
    stamps.forget()
    before, entries = stamps.tree_stamp(root)
    assert "templates/two\nlines.txt" in entries.split(stamps.SEP)
    with odd.open("a") as handle:                     # in place: no folder changes
        handle.write(" more")
    stamps.forget()
    assert stamps.tree_stamp(root, entries)[0] != before
    repo = _repo(tmp_path)
    odd = repo / "workflow_sources" / "mta" / "specs" / "odd\nname.txt"
    odd.write_text("x")
    _run(repo)
    assert "mta" in _run(repo).cached
    with odd.open("a") as handle:
        handle.write("y")
    assert "mta" not in _run(repo).cached             # its folder hashed again, the change seen
