"""Unit tests of the foundation modules: yamlio, sources, fsutil, names, errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from unittest import mock

import pytest

from chartgen import errors, fsutil, names, sources
from chartgen.errors import ChartgenError, Finding, FindingList, UsageError
from chartgen.yamlio import dump_json, dump_yaml, dump_yaml_all, load_data, load_document


# =========================================================================== yamlio

class TestPositions:
    TEXT = ("id: demo\n"
            "states:\n"
            "  - name: First\n"
            "    type: inject\n"
            "    data: {a: 1, b: [x, y]}\n"
            "  - name: Second\n"
            "    text: |\n"
            "      line one\n")

    def test_every_node_has_its_line_and_column(self):
        doc = load_document(self.TEXT, "w.sw.yaml")
        assert doc.where(("id",)) == (1, 5)
        assert doc.where(("states", 0, "name")) == (3, 11)
        assert doc.where(("states", 0, "data", "b", 1)) == (5, 25)
        assert doc.where(("states", 1)) == (6, 5)
        assert doc.get(("states", 1, "text")) == "line one\n"

    def test_missing_pointer_falls_back_to_nearest_ancestor(self):
        doc = load_document(self.TEXT, "w.sw.yaml")
        assert doc.where(("states", 0, "nope", "deeper")) == doc.where(("states", 0))
        assert doc.where(("unknown",)) == (1, 1)
        assert doc.get(("states", 7, "name"), "default") == "default"

    def test_json_keeps_positions_too(self):
        doc = load_document('{\n  "id": "demo",\n  "states": [\n    {"name": "A"}\n  ]\n}\n', "w.sw.json")
        assert doc.is_json
        assert doc.data == {"id": "demo", "states": [{"name": "A"}]}
        assert doc.where(("states", 0, "name")) == (4, 14)


class TestDuplicateKeys:
    def test_yaml_duplicate_is_an_error_finding_with_both_lines(self):
        doc = load_document("a: 1\nb: 2\na: 3\n", "x.yaml")
        assert [(f.line, f.column, f.severity, f.code) for f in doc.findings] == [(3, 1, "error", "duplicate-key")]
        assert "first defined at line 1" in doc.findings[0].message
        assert doc.data["a"] == 3

    def test_yaml_nested_duplicate(self):
        doc = load_document("outer:\n  k: 1\n  k: 2\n", "x.yaml")
        assert [(f.line, f.code) for f in doc.findings] == [(3, "duplicate-key")]

    def test_json_duplicate_raises_with_line(self):
        text = '{\n  "a": 1,\n  "b": {\n    "c": 2,\n    "c": 3\n  }\n}\n'
        with pytest.raises(ChartgenError) as caught:
            load_document(text, "x.json")
        finding = caught.value.findings[0]
        assert (finding.path, finding.line, finding.code) == ("x.json", 5, "duplicate-key")
        assert "'c'" in finding.message and "line 4" in finding.message


class TestYaml11:
    def test_version_1_0_is_a_float(self):
        doc = load_document("version: 1.0\nother: '1.0'\n", "x.yaml")
        assert doc.data["version"] == 1.0 and isinstance(doc.data["version"], float)
        assert doc.data["other"] == "1.0"

    def test_yaml11_booleans_are_read_as_kubernetes_reads_them(self):
        doc = load_document("on: push\nenabled: yes\nanswer: No\nquoted: 'yes'\n", "x.yaml")
        # Values follow YAML 1.1 (what Kubernetes reads); keys stay text, with a warning.
        assert doc.data == {"on": "push", "enabled": True, "answer": False, "quoted": "yes"}

    def test_yaml11_traps_are_recorded(self):
        doc = load_document("on: push\nenabled: yes\nquoted: 'yes'\n", "x.yaml")
        assert [(f.line, f.column, f.severity, f.code) for f in doc.findings] == [
            (1, 1, "warning", "yaml11-boolean"), (2, 10, "warning", "yaml11-boolean")]

    def test_octal_and_sexagesimal_follow_yaml_1_1(self):
        assert load_document("a: 010\nb: 0x1F\n", "x.yaml").data == {"a": 8, "b": 31}


class TestEncoding:
    def test_bom_is_ignored(self):
        assert load_document(b"\xef\xbb\xbfa: 1\n", "x.yaml").data == {"a": 1}
        assert load_document(b'\xef\xbb\xbf{"a": 1}', "x.json").data == {"a": 1}

    def test_non_utf8_is_an_error_naming_the_byte(self):
        with pytest.raises(ChartgenError) as caught:
            load_document(b"a: caf\xe9\n", "latin1.yaml")
        assert caught.value.format() == "latin1.yaml: error: not UTF-8 text (byte 6) [encoding]"
        assert caught.value.exit_code == 1

    def test_syntax_errors_carry_positions(self):
        with pytest.raises(ChartgenError) as caught:
            load_document("a: [1\n", "bad.yaml")
        assert caught.value.findings[0].code == "yaml-syntax" and caught.value.findings[0].line == 2
        with pytest.raises(ChartgenError) as caught:
            load_document('{"a": 1,}', "bad.json")
        assert (caught.value.findings[0].code, caught.value.findings[0].line) == ("json-syntax", 1)

    def test_empty_document(self):
        assert load_document("", "e.yaml").data is None
        assert load_document("# only a comment\n", "e.yaml").data is None

    def test_yaml_flow_mapping_document(self):
        assert load_document("{id: x, states: []}\n", "flow.sw.yaml").data == {"id": "x", "states": []}

    def test_load_data_fast_path(self):
        assert load_data('{"a": [1, 2]}') == {"a": [1, 2]}
        assert load_data("a: b\n") == {"a": "b"}
        assert load_data("{id: x}") == {"id": "x"}

    def test_merge_keys(self):
        doc = load_document("base: &b {x: 1}\nchild:\n  <<: *b\n  y: 2\n", "m.yaml")
        assert doc.data["child"] == {"x": 1, "y": 2}


class TestDump:
    DATA = {"b": 1, "a": "line one\nline two\n", "c": ["yes", "1.0", "on", "no newline\nat end"],
            "d": {"z": None, "y": True}}

    def test_deterministic_sorted_literal_blocks(self):
        text = dump_yaml(self.DATA)
        assert text == dump_yaml(json.loads(json.dumps(self.DATA)))
        assert text.startswith("a: |\n  line one\n  line two\nb: 1\n")
        assert "- |-\n  no newline\n  at end\n" in text
        assert "d:\n  'y': true\n  z: null\n" in text   # Go's YAML reads a plain y as true

    def test_yaml11_sensitive_strings_are_quoted_and_round_trip(self):
        text = dump_yaml(self.DATA)
        assert "- 'yes'\n- '1.0'\n- 'on'\n" in text
        assert load_data(text) == self.DATA

    def test_strings_go_yaml_reads_otherwise_are_quoted(self):
        for text in ("y", "N", "0o17", "1e3", "08", "+.5", "1_0", "0x_1F"):
            assert dump_yaml({text: text}) == f"'{text}': '{text}'\n"
        for text in ("1.2.3", "v1", "2001-1-2", "+", "."):
            assert dump_yaml({"k": text}) == f"k: {text}\n"
        assert dump_yaml({"k": "a\nb\u2028"}) == 'k: "a\\nb\\L"\n'

    def test_long_lines_are_not_wrapped(self):
        long = "x " * 200
        assert dump_yaml({"k": long}).count("\n") == 1

    def test_unsorted_and_multi_document(self):
        assert dump_yaml({"b": 1, "a": 2}, sort_keys=False) == "b: 1\na: 2\n"
        assert dump_yaml_all([{"a": 1}, {"b": 2}]) == "---\na: 1\n---\nb: 2\n"

    def test_helm_braces_survive(self):
        data = {"flow": "{{ not helm }} and {{- this }}"}
        assert load_data(dump_yaml(data)) == data

    def test_dump_json(self):
        assert dump_json({"b": 1, "a": "é"}) == '{\n  "a": "é",\n  "b": 1\n}\n'
        assert dump_json([1], indent=None) == "[1]"


# =========================================================================== sources

def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


MINIMAL = "id: demo\nspecVersion: '0.8'\nstart: S\nstates:\n  - name: S\n    type: inject\n    end: true\n"


class TestSources:
    def test_one_main_workflow_and_its_parts(self, tmp_path):
        root = _write(tmp_path / "demo", {
            "demo.sw.yaml": MINIMAL, "application.properties": "a=b\n", "secret.properties": "T=\n",
            "specs/api.yaml": "openapi: 3.0.0\n", "schemas/in.json": "{}", "subflows/sub.sw.yaml": MINIMAL,
            "subflows/specs/inner.yaml": "openapi: 3.0.0\n", "README.md": "# demo\n", "argfile.conf": "A=1\n",
            "specs/notes.txt": "ignored\n"})
        wf = sources.load_workflow(root)
        assert wf.findings == ()
        assert (wf.name, wf.main.rel, wf.workflow_id) == ("demo", "demo.sw.yaml", "demo")
        assert wf.properties.content == b"a=b\n" and wf.secret_properties.content == b"T=\n"
        assert {(r.workflow_path, r.name) for r in wf.resources} == {
            ("specs", "api.yaml"), ("schemas", "in.json"), ("subflows", "sub.sw.yaml"),
            ("subflows/specs", "inner.yaml")}
        assert list(wf.resource_groups()) == ["schemas", "specs", "subflows", "subflows/specs"]
        assert set(wf.other_files) == {"README.md", "argfile.conf"}

    def test_zero_main_workflows(self, tmp_path):
        root = _write(tmp_path / "empty", {"application.properties": ""})
        wf = sources.load_workflow(root)
        assert wf.main is None and wf.workflow == {} and wf.workflow_id == ""
        assert [f.code for f in wf.findings] == ["no-workflow"]

    def test_several_main_workflows(self, tmp_path):
        root = _write(tmp_path / "two", {"a.sw.yaml": MINIMAL, "b.sw.json": "{}"})
        wf = sources.load_workflow(root)
        assert wf.main is None
        [finding] = wf.findings
        assert finding.code == "several-workflows" and "a.sw.yaml, b.sw.json" in finding.message

    def test_not_a_folder_is_a_usage_error(self, tmp_path):
        with pytest.raises(UsageError):
            sources.load_workflow(tmp_path / "missing")

    def test_unreadable_workflow_content_is_a_finding_not_a_crash(self, tmp_path):
        root = _write(tmp_path / "bad", {"bad.sw.yaml": "id: [\n"})
        wf = sources.load_workflow(root)
        assert wf.document is None and wf.workflow == {}
        with pytest.raises(ChartgenError):
            wf.main.document

    def test_unreadable_file_is_a_finding(self, tmp_path):
        # As root, permissions do not stop reads: a dangling symlink inside the folder does.
        root = _write(tmp_path / "wf", {"wf.sw.yaml": MINIMAL})
        (root / "specs").mkdir()
        (root / "specs" / "gone.yaml").symlink_to(root / "specs" / "missing.yaml")
        wf = sources.load_workflow(root)
        assert [f.code for f in wf.findings] == ["unreadable"]
        assert "gone.yaml" in wf.findings[0].path

    def test_non_utf8_file_text(self, tmp_path):
        root = tmp_path / "wf"
        root.mkdir()
        (root / "wf.sw.yaml").write_bytes(b"id: caf\xe9\n")
        wf = sources.load_workflow(root)
        with pytest.raises(ChartgenError) as caught:
            wf.main.text
        assert caught.value.code == "encoding"
        assert wf.document is None

    def test_symlinked_file_out_of_a_resource_folder_is_refused(self, tmp_path):
        outside = _write(tmp_path / "outside", {"x.yaml": "openapi: 3.0.0\n"})
        root = _write(tmp_path / "wf", {"wf.sw.yaml": MINIMAL, "specs/ok.yaml": "openapi: 3.0.0\n"})
        (root / "specs" / "evil.yaml").symlink_to(outside / "x.yaml")
        wf = sources.load_workflow(root)
        assert [f.code for f in wf.findings] == ["path-escape"]
        assert [r.name for r in wf.resources] == ["ok.yaml"]

    def test_symlink_inside_the_folder_is_fine(self, tmp_path):
        root = _write(tmp_path / "wf", {"wf.sw.yaml": MINIMAL, "schemas/real.json": "{}"})
        (root / "specs").mkdir()
        (root / "specs" / "alias.json").symlink_to(root / "schemas" / "real.json")
        assert sources.load_workflow(root).findings == ()

    def test_symlinked_resource_folder_out_of_the_workflow_is_refused(self, tmp_path):
        outside = _write(tmp_path / "outside", {"x.yaml": "openapi: 3.0.0\n"})
        root = _write(tmp_path / "wf", {"wf.sw.yaml": MINIMAL})
        (root / "specs").symlink_to(outside)
        wf = sources.load_workflow(root)
        assert "path-escape" in [f.code for f in wf.findings]
        assert wf.resources == ()

    def test_symlinked_properties_out_of_the_workflow_are_refused(self, tmp_path):
        outside = _write(tmp_path / "outside", {"creds": "password=hunter2\n"})
        root = _write(tmp_path / "wf", {"wf.sw.yaml": MINIMAL})
        (root / "application.properties").symlink_to(outside / "creds")
        wf = sources.load_workflow(root)
        assert wf.properties is None
        assert "path-escape" in [f.code for f in wf.findings]

    def test_shared_overlay_is_transitive_and_only_what_is_used(self, tmp_path):
        repo = _write(tmp_path / "ws", {
            "wf/wf.sw.yaml": MINIMAL + "functions:\n  - name: n\n    operation: shared/specs/n.yaml#op\n",
            "wf/schemas/out.json": '{"properties": {"r": {"$ref": "../shared/schemas/a.json"}}}',
            "shared/schemas/a.json": '{"$ref": "b.json"}',
            "shared/schemas/b.json": '{"properties": {"c": {"$ref": "../specs/c.yaml#/x"}}}',
            "shared/specs/c.yaml": "x: {}\n",
            "shared/specs/n.yaml": "openapi: 3.0.0\n",
            "shared/specs/unused.yaml": "openapi: 3.0.0\n"})
        wf = sources.load_workflow(repo / "wf")
        shared = {(r.workflow_path, r.name) for r in wf.resources if r.workflow_path.startswith("shared/")}
        assert shared == {("shared/schemas", "a.json"), ("shared/schemas", "b.json"),
                          ("shared/specs", "c.yaml"), ("shared/specs", "n.yaml")}
        assert wf.shared_dir == repo / "shared"
        assert sources.load_workflow(repo / "wf", shared_dir=False).resources[-1].workflow_path == "schemas"

    def test_shared_overlay_skips_dangling_and_escaping_references(self, tmp_path):
        repo = _write(tmp_path / "ws", {
            "wf/wf.sw.yaml": MINIMAL,
            "wf/schemas/out.json": '{"a": {"$ref": "../shared/schemas/missing.json"},'
                                   ' "b": {"$ref": "../shared/schemas/link.json"}}',
            "outside/secret.json": "{}", "shared/schemas/keep.json": "{}"})
        (repo / "shared" / "schemas" / "link.json").symlink_to(repo / "outside" / "secret.json")
        wf = sources.load_workflow(repo / "wf")
        assert [r.file.rel for r in wf.resources] == ["schemas/out.json"]

    def test_folder_with_its_own_shared_copy_wins(self, tmp_path):
        repo = _write(tmp_path / "ws", {
            "wf/wf.sw.yaml": MINIMAL,
            "wf/schemas/out.json": '{"$ref": "../shared/schemas/r.json"}',
            "wf/shared/schemas/r.json": '{"own": true}',
            "shared/schemas/r.json": '{"own": false}'})
        wf = sources.load_workflow(repo / "wf")
        [own] = [r for r in wf.resources if r.file.rel == "shared/schemas/r.json"]
        assert json.loads(own.file.content) == {"own": True}

    def test_underscore_shared_folder_is_found(self, tmp_path):
        repo = _write(tmp_path / "ws", {"wf/wf.sw.yaml": MINIMAL, "_shared/x.json": "{}"})
        assert sources.find_shared_dir(repo / "wf") == repo / "_shared"

    def test_file_references(self):
        data = {"a": {"$ref": "../shared/x.json#/defs/y"}, "op": "specs/api.yaml#getThing",
                "url": "https://example.com/spec.yaml", "abs": "/etc/x.json", "text": "not a file",
                "list": ["schemas/z.yml"]}
        found = dict(sources.file_references(data, "schemas"))
        assert set(found) == {"shared/x.json", "schemas/specs/api.yaml", "schemas/schemas/z.yml"}
        assert found["shared/x.json"] == ("a", "$ref")

    def test_discover_and_resolve(self, tmp_path):
        repo = _write(tmp_path / "ws", {"b/b.sw.yaml": MINIMAL, "a/a.sw.yaml": MINIMAL, "shared/x.json": "{}",
                                        "_draft/d.sw.yaml": MINIMAL, ".hidden/h.sw.yaml": MINIMAL, "file.txt": ""})
        assert [p.name for p in sources.discover(repo, repo / "shared")] == ["a", "b"]
        assert sources.resolve_workflow("a", repo) == repo / "a"
        assert sources.resolve_workflow(str(repo / "b"), tmp_path) == repo / "b"
        with pytest.raises(UsageError) as caught:
            sources.resolve_workflow("zzz", repo)
        assert caught.value.code == "unknown-workflow" and caught.value.exit_code == 2
        with pytest.raises(UsageError):
            sources.discover(tmp_path / "none")


# =========================================================================== fsutil

class TestAtomicDirectory:
    def test_creates_then_replaces_without_leftovers(self, tmp_path):
        target = tmp_path / "out"
        with fsutil.atomic_directory(target) as work:
            (work / "old.yaml").write_text("1")
        assert sorted(os.listdir(target)) == [fsutil.MARKER, "old.yaml"]
        with fsutil.atomic_directory(target) as work:
            (work / "new.yaml").write_text("2")
        assert sorted(os.listdir(target)) == [fsutil.MARKER, "new.yaml"]
        assert os.listdir(tmp_path) == ["out"]

    def test_empty_foreign_directory_may_be_replaced(self, tmp_path):
        (tmp_path / "out").mkdir()
        with fsutil.atomic_directory(tmp_path / "out") as work:
            (work / "a").write_text("x")
        assert (tmp_path / "out" / "a").exists()

    def test_refuses_a_foreign_directory(self, tmp_path):
        target = tmp_path / "precious"
        target.mkdir()
        (target / "thesis.tex").write_text("years of work")
        with pytest.raises(ChartgenError) as caught:
            with fsutil.atomic_directory(target):
                pytest.fail("must not get here")
        assert caught.value.code == "output-not-ours"
        assert (target / "thesis.tex").read_text() == "years of work"
        assert os.listdir(tmp_path) == ["precious"]

    @pytest.mark.parametrize("kind", ["file", "symlink"])
    def test_refuses_a_non_directory(self, tmp_path, kind):
        target = tmp_path / "out"
        if kind == "file":
            target.write_text("x")
        else:
            (tmp_path / "real").mkdir()
            target.symlink_to(tmp_path / "real")
        with pytest.raises(ChartgenError) as caught:
            with fsutil.atomic_directory(target):
                pass
        assert caught.value.code == "output-not-dir"

    def test_exception_leaves_target_untouched_and_nothing_behind(self, tmp_path):
        target = tmp_path / "out"
        with fsutil.atomic_directory(target) as work:
            (work / "kept.yaml").write_text("1")
        with pytest.raises(RuntimeError):
            with fsutil.atomic_directory(target) as work:
                (work / "half.yaml").write_text("2")
                raise RuntimeError("render failed")
        assert sorted(os.listdir(target)) == [fsutil.MARKER, "kept.yaml"]
        assert os.listdir(tmp_path) == ["out"]

    def test_failed_swap_restores_the_old_directory(self, tmp_path):
        target = tmp_path / "out"
        with fsutil.atomic_directory(target) as work:
            (work / "kept.yaml").write_text("1")
        real_rename, calls = os.rename, []

        def rename(src, dst):
            calls.append(dst)
            if len(calls) == 2:
                raise OSError(28, "No space left on device")
            return real_rename(src, dst)

        with mock.patch("chartgen.fsutil.os.rename", rename), pytest.raises(OSError):
            with fsutil.atomic_directory(target) as work:
                (work / "new.yaml").write_text("2")
        assert sorted(os.listdir(tmp_path)) == ["out"]
        assert (target / "kept.yaml").exists()


def _dead_pid() -> int:
    import subprocess

    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


class TestReusedFolders:
    """atomic_directory(reuse=...): unchanged sub-folders move into the new folder; they are
    never lost, whether the swap fails or the run is killed."""

    def _first(self, target):
        with fsutil.atomic_directory(target) as work:
            for name in ("a", "b"):
                (work / "charts" / name).mkdir(parents=True)
                (work / "charts" / name / "f.txt").write_text(name)
            (work / "top.txt").write_text("1")

    def test_reused_folders_are_moved_not_copied(self, tmp_path):
        target = tmp_path / "out"
        self._first(target)
        inode = (target / "charts" / "a" / "f.txt").stat().st_ino
        with fsutil.atomic_directory(target, reuse=["charts/a"]) as work:
            (work / "charts" / "b").mkdir(parents=True)
            (work / "charts" / "b" / "f.txt").write_text("b2")
            (work / "top.txt").write_text("2")
        assert (target / "charts" / "a" / "f.txt").stat().st_ino == inode
        assert (target / "charts" / "b" / "f.txt").read_text() == "b2"
        assert (target / "top.txt").read_text() == "2"
        assert os.listdir(tmp_path) == ["out"]

    def test_a_failed_swap_puts_them_back(self, tmp_path):
        target = tmp_path / "out"
        self._first(target)
        real_rename = os.rename

        def rename(src, dst):
            if Path(dst) == target and ".tmp-" in Path(src).name:   # the swap itself
                raise OSError(28, "No space left on device")
            return real_rename(src, dst)

        with mock.patch("chartgen.fsutil.os.rename", rename), pytest.raises(OSError):
            with fsutil.atomic_directory(target, reuse=["charts/a", "charts/b"]) as work:
                (work / "top.txt").write_text("2")
        assert sorted(os.listdir(target / "charts")) == ["a", "b"]
        assert (target / "top.txt").read_text() == "1"
        assert os.listdir(tmp_path) == ["out"]

    @pytest.mark.parametrize("moved_aside", [False, True])
    def test_the_next_run_puts_back_what_a_killed_run_moved(self, tmp_path, moved_aside):
        target = tmp_path / "out"
        self._first(target)
        pid = _dead_pid()
        # What a run killed after moving `charts/a` into its new folder leaves (and, moved_aside,
        # killed between the two renames of the swap).
        tmp = tmp_path / f".out.tmp-{pid}-x1y2"
        (tmp / "charts").mkdir(parents=True)
        os.rename(target / "charts" / "a", tmp / "charts" / "a")
        (tmp_path / f".out.reused-{pid}-z9w8").write_text('".out.tmp-%d-x1y2"\n"charts/a"\n' % pid)
        if moved_aside:
            os.rename(target, tmp_path / f".out.old-{pid}")
        fsutil.sweep_leftovers(tmp_path)
        assert sorted(os.listdir(tmp_path)) == ["out"]
        assert sorted(os.listdir(target / "charts")) == ["a", "b"]
        assert (target / "charts" / "a" / "f.txt").read_text() == "a"

    def test_a_journal_never_moves_anything_outside(self, tmp_path):
        target = tmp_path / "out"
        self._first(target)
        pid = _dead_pid()
        (tmp_path / "elsewhere").mkdir()
        (tmp_path / f".out.reused-{pid}-z9w8").write_text('"elsewhere"\n"../../x"\n"/etc"\n')
        fsutil.sweep_leftovers(tmp_path)
        assert sorted(os.listdir(tmp_path)) == ["elsewhere", "out"]
        assert sorted(os.listdir(target / "charts")) == ["a", "b"]


class TestFileHelpers:
    def test_write_tree_and_atomic(self, tmp_path):
        fsutil.write_tree(tmp_path, {"a/b.txt": "text", "c.bin": b"\x00\x01"})
        assert (tmp_path / "a" / "b.txt").read_text() == "text"
        assert (tmp_path / "c.bin").read_bytes() == b"\x00\x01"
        fsutil.write_atomic(tmp_path / "d" / "e.txt", "one")
        fsutil.write_atomic(tmp_path / "d" / "e.txt", "two")
        assert os.listdir(tmp_path / "d") == ["e.txt"]
        assert (tmp_path / "d" / "e.txt").read_text() == "two"

    def test_is_inside(self, tmp_path):
        (tmp_path / "in").mkdir()
        (tmp_path / "in" / "link").symlink_to(tmp_path)
        assert fsutil.is_inside(tmp_path / "in" / "x", tmp_path / "in")
        assert not fsutil.is_inside(tmp_path / "in" / ".." / "x", tmp_path / "in")
        assert not fsutil.is_inside(tmp_path / "in" / "link", tmp_path / "in")


# =========================================================================== names

@pytest.mark.parametrize("key, expected", [
    # examples of gen-manifest.md §1.5 (upstream normalizeEnvNames tests)
    ("%dev.quarkus.http.port", ["_DEV_QUARKUS_HTTP_PORT"]),
    ("%prod,dev.my.prop", ["_PROD_MY_PROP", "_DEV_MY_PROP"]),
    ("my.env-1", ["MY_ENV_1"]),
    ('foo."bar".baz', ["FOO__BAR__BAZ"]),
    ("my.config[0].value", ["MY_CONFIG_0__VALUE"]),
    ('quarkus.datasource."datasource-name".jdbc.url', ["QUARKUS_DATASOURCE__DATASOURCE_NAME__JDBC_URL"]),
    ("NOTIFICATIONS_BEARER_TOKEN", ["NOTIFICATIONS_BEARER_TOKEN"]),
    ("a..", ["A_"]),            # only ONE trailing underscore is dropped
    ("  spaced.key ", ["SPACED_KEY"]),
])
def test_env_names(key, expected):
    assert names.env_names(key) == expected


@pytest.mark.parametrize("key", ["my-env-1$", "caf\u00e9", "a/b"])
def test_env_names_rejects_invalid(key):
    with pytest.raises(ValueError, match=r"invalid environment variable name: .* \(must only contain A-Z, 0-9, and _\)"):
        names.env_names(key)


def test_kubernetes_names():
    assert names.workflow_name("MyFlow") == "myflow"
    assert names.is_dns1123_label("move2kube") and not names.is_dns1123_label("my_flow")
    assert not names.is_dns1123_label("a" * 64) and names.is_dns1123_label("a" * 63)
    assert not names.is_dns1123_label("-a") and not names.is_dns1123_label("a-")
    assert names.is_dns1123_subdomain("01-mta-resources.specs") and not names.is_dns1123_subdomain("A.b")
    assert names.is_configmap_key("mta-openapi.yaml") and not names.is_configmap_key("traffic violation.sw.json")
    assert not names.is_configmap_key("..")


def test_postgres_identifiers():
    assert names.postgres_identifier("move2kube") == "move2kube"
    assert names.postgres_identifier("9-Lives") == "_9_lives"
    assert len(names.postgres_identifier("x" * 100)) == 63
    assert names.is_postgres_identifier("mta_v7") and not names.is_postgres_identifier("mta-v7")


# =========================================================================== errors

@pytest.fixture
def clean_secrets(monkeypatch):
    monkeypatch.setattr(errors, "_SECRETS", set())
    for name in errors._SECRET_ENV:
        monkeypatch.delenv(name, raising=False)


class TestRedaction:
    def test_registered_secret_is_removed_everywhere(self, clean_secrets):
        errors.register_secret("s3cr3t-value")
        errors.register_secret("abc")  # too short to redact safely: ignored
        assert errors.redact("token=s3cr3t-value, abc") == "token=***, abc"
        error = ChartgenError("push failed with s3cr3t-value", path="x")
        assert "s3cr3t-value" not in str(error) and "s3cr3t-value" not in error.format()
        assert error.findings[0].to_dict()["message"] == "push failed with ***"

    def test_environment_tokens(self, clean_secrets, monkeypatch):
        monkeypatch.setenv("GITHUB_TOKEN", "ghp_0123456789abcdef")
        assert errors.redact("auth ghp_0123456789abcdef") == "auth ***"

    def test_longest_secret_first(self, clean_secrets):
        errors.register_secret("abcd")
        errors.register_secret("abcdefgh")
        assert errors.redact("abcdefgh") == "***"

    @pytest.mark.parametrize("url, expected", [
        ("https://user:pass@github.com/o/r.git", "https://***@github.com/o/r.git"),
        ("https://x-access-token:ghs_tok@github.com/o/r", "https://***@github.com/o/r"),
        ("https://ghp_tokenonly@github.com/o/r", "https://***@github.com/o/r"),
        ("git clone http://u:p@127.0.0.1:8080/r.git now", "git clone http://***@127.0.0.1:8080/r.git now"),
        ("https://github.com/o/r.git", "https://github.com/o/r.git"),
        ("mail me at a@b.c", "mail me at a@b.c"),
    ])
    def test_url_credentials(self, clean_secrets, url, expected):
        assert errors.redact(url) == expected

    def test_environment_token_set_after_first_use(self, clean_secrets, monkeypatch):
        errors.redact("warm up")
        monkeypatch.setenv("GH_TOKEN", "ghp_late_token_42")
        assert errors.redact("ghp_late_token_42") == "***"

    def test_path_with_credentials_is_redacted(self, clean_secrets):
        finding = Finding("https://bot:t0ken@git.example.com/r/x.yaml", 1, 1, "error", "bad", "c")
        assert "t0ken" not in finding.format()


class TestFindings:
    def test_format(self):
        assert Finding("a.yaml", 3, 5, "error", "broken", "code").format() == "a.yaml:3:5: error: broken [code]"
        assert Finding("a.yaml", 3, 0, "warning", "w", "c").format() == "a.yaml:3:1: warning: w [c]"
        assert Finding("a.yaml", 0, 0, "error", "m", "c").format() == "a.yaml: error: m [c]"
        assert Finding("", 0, 0, "error", "m", "c").format() == "chartgen: error: m [c]"

    def test_error_classes(self):
        error = ChartgenError("bad input", path=Path("x/y.yaml"), line=2, column=3, code="k")
        assert (error.exit_code, error.code, error.format()) == (1, "k", "x/y.yaml:2:3: error: bad input [k]")
        usage = UsageError("bad flag", code="usage")
        assert usage.exit_code == 2 and isinstance(usage, ChartgenError)
        many = ChartgenError(findings=[Finding("a", 1), Finding("b", 2)])
        assert many.format().count("\n") == 1 and many.code == "error"
        assert ChartgenError().format() == "error: chartgen error"

    def test_finding_list(self):
        found = FindingList()
        found.warning("b.yaml", (2, 1), "w", "w1")
        found.error("a.yaml", (9, 9), "e", "e1")
        found.error("a.yaml", (9, 9), "e", "e1")  # duplicates collapse
        assert found.has_errors
        assert [f.format() for f in found.sorted()] == ["a.yaml:9:9: error: e [e1]", "b.yaml:2:1: warning: w [w1]"]
        assert not FindingList([Finding("x", severity="warning")]).has_errors


def test_user_cache_dir_is_private_or_not_used(tmp_path, monkeypatch):
    from chartgen.fsutil import user_cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    made = user_cache_dir("templates")
    assert made == tmp_path / "cache" / "chartgen" / "templates" and made.stat().st_mode & 0o777 == 0o700
    (tmp_path / "cache" / "chartgen" / "open").mkdir()
    (tmp_path / "cache" / "chartgen" / "open").chmod(0o777)
    assert user_cache_dir("open") is None                  # others could write what is loaded from there
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "cache" / "chartgen" / "linked").symlink_to(tmp_path / "elsewhere")
    assert user_cache_dir("linked") is None
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")
    monkeypatch.setenv("HOME", "relative")
    assert user_cache_dir("templates") is None


def test_templates_render_the_same_from_the_bytecode_cache(tmp_path, monkeypatch):
    import subprocess
    import sys

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code = ("from chartgen.chart.textfiles import render_text; "
            "print(render_text('umbrella-NOTES.txt.j2', rows=[]))")
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert list((tmp_path / "cache" / "chartgen" / "templates").iterdir())      # compiled once, kept
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert first.stdout == second.stdout and first.stdout.strip()


def test_relative_paths_resolve_only_when_a_link_or_dotdot_is_on_the_way(tmp_path):
    from chartgen.fsutil import relative_paths

    (tmp_path / "sources" / "a").mkdir(parents=True)
    (tmp_path / "elsewhere" / "b").mkdir(parents=True)
    (tmp_path / "sources" / "linked").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "sources" / "inner").symlink_to(tmp_path / "sources" / "a")
    paths = [tmp_path / "sources" / "a", tmp_path / "sources" / "linked" / "b", tmp_path / "elsewhere",
             tmp_path / "sources" / "a" / ".." / "a", tmp_path, tmp_path / "sources" / "inner"]
    assert relative_paths(paths, tmp_path / "sources") == [Path("a"), None, None, Path("a"), None, Path("a")]
