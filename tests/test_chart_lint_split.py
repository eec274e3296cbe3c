"""yamllint of a long Chart.yaml in pieces (chartgen.chart.yamlsplit) gives yamllint's problems
on the whole file: the same rules, lines, columns and levels."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

CONFIGS = {
    "chartgen": None,   # chartgen's rules (chart-testing's): line-length off, indentation consistent
    "default": "extends: default\n",
    "strict": ("extends: default\nrules:\n  indentation: {spaces: 4, indent-sequences: true}\n"
               "  line-length: {max: 60}\n  document-start: {present: false}\n  key-ordering: enable\n"
               "  empty-values: enable\n  quoted-strings: {required: true}\n  document-end: {present: true}\n"),
}


def umbrella_text(count: int = 60, *, annotations: bool = True) -> str:
    lines = ["apiVersion: v2", "name: workflows", "description: All workflows.", "type: application",
             "version: 0.1.0-rc.2", "kubeVersion: '>=1.27.0-0'", "keywords:", "- sonataflow", "dependencies:"]
    for index in range(count):
        name = f"flow-{index:04d}"
        lines += [f"- name: {name}", f"  version: 0.1.{index}", f"  condition: {name}.enabled"]
    if annotations:
        lines += ["annotations:", "  chartgen.io/umbrella: 'true'", "  artifacthub.io/changes: |",
                  "    - kind: changed", "      description: Chart flow-0003 0.1.2 -> 0.1.3"]
    return "\n".join(lines) + "\n"


class DictMemo:
    def __init__(self):
        self.store = {}

    def get(self, text, path):
        return self.store.get((text, path))

    def put(self, text, path, findings):
        self.store[(text, path)] = findings


def _conf(name):
    from yamllint.config import YamlLintConfig

    from chartgen.chart.lint import _yamllint_config, yamllint_config_path

    return _yamllint_config(yamllint_config_path(None)) if CONFIGS[name] is None else YamlLintConfig(CONFIGS[name])


def _whole(text, conf):
    from chartgen.chart.lint import _text_findings

    return sorted(_text_findings(text, conf, Path("Chart.yaml"), "Chart.yaml"), key=_order)


def _split(text, conf, memo=None):
    from chartgen.chart.lint import _split_findings

    found = _split_findings(text, conf, Path("Chart.yaml"), "Chart.yaml", memo or DictMemo(), mean_block=4)
    return None if found is None else sorted(found, key=_order)


def _order(finding):
    return finding.line, finding.column, finding.message


def _line_of(text, needle):
    return text[:text.index(needle)].count("\n") + 1


def _edit(text, old, new):
    assert old in text
    return text.replace(old, new, 1)


def _indent_annotations(text):
    """The annotations indented by 4 (after a mapping indented by 2: wrong for `spaces: consistent`)."""
    head, tail = text.split("\nannotations:")
    return head + "\nannotations:" + tail.replace("\n  ", "\n    ")


BASE = umbrella_text()
PROBLEMS = {
    "clean": BASE,
    "trailing spaces in one entry": _edit(BASE, "  version: 0.1.37\n", "  version: 0.1.37   \n"),
    "too long line in one entry": _edit(BASE, "  condition: flow-0041.enabled\n",
                                        "  condition: flow-0041.enabled-" + "x" * 90 + "\n"),
    "too long line in the head": _edit(BASE, "description: All workflows.", "description: " + "All " * 30),
    "duplicate top-level key": _edit(BASE, "type: application\n", "type: application\nname: again\n"),
    "duplicate dependencies key": BASE + "dependencies:\n- name: late\n",
    "duplicate key in one entry": _edit(BASE, "  version: 0.1.22\n", "  version: 0.1.22\n  version: 0.1.23\n"),
    "wrong indentation in the head": _edit(BASE, "keywords:\n- sonataflow", "keywords:\n   - sonataflow"),
    "wrong indentation of the annotations": _indent_annotations(_edit(BASE, "keywords:",
                                                                      "maintainers:\n  - name: a\nkeywords:")),
    "truthy and empty values in entries": _edit(_edit(BASE, "  version: 0.1.9\n", "  version: 0.1.9\n  enabled: yes\n"),
                                                "  version: 0.1.51\n", "  version:\n"),
    "spaces after colons": _edit(_edit(BASE, "  version: 0.1.30", "  version:   0.1.30"),
                                 "- name: flow-0033\n", "- name:  flow-0033\n"),
    "no new line at the end": BASE.rstrip("\n"),
    "blank lines at the end and before the annotations": _edit(BASE, "annotations:", "\n\n\nannotations:") + "\n\n",
    "document markers": "---\n" + BASE + "...\n",
    "trailing spaces in the first entry": _edit(BASE, "dependencies:\n- name: flow-0000\n",
                                                    "dependencies:\n- name: flow-0000   \n"),
}
# Files that are not cut (the whole file is linted): the result is the same by construction.
NOT_CUT = {
    "wrong indentation in one entry": _edit(BASE, "  version: 0.1.12\n", "   version: 0.1.12\n"),
    "comment in one entry": _edit(BASE, "  version: 0.1.12\n", "  version: 0.1.12 # pinned\n"),
    "yamllint directive": "# yamllint disable rule:trailing-spaces\n" + BASE,
    "quoted value": _edit(BASE, "  version: 0.1.12\n", "  version: '0.1.12'\n"),
    "no key after the list": umbrella_text(annotations=False),
    "dependencies inside a quoted scalar": _edit(
        BASE, "description: All workflows.", 'description: "All workflows.\ndependencies:\n- name: x\n- name: y\nend"'),
}
SYNTAX = {
    "syntax error in one entry": _edit(BASE, "  version: 0.1.44\n", "  version: 0.1.44: x\n"),
    "stray line in one entry": _edit(BASE, "  version: 0.1.44\n", "  version: 0.1.44\n  stray\n"),
}


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("case", sorted(PROBLEMS))
def test_split_lint_is_yamllint_of_the_whole_file(case, config):
    from chartgen.chart.yamlsplit import pieces

    text = PROBLEMS[case]
    conf = _conf(config)
    assert pieces(text, mean_block=4) is not None and len(pieces(text, mean_block=4)) > 4
    whole = _whole(text, conf)
    assert _split(text, conf) == whole
    if case != "clean" and config == "default":
        assert whole     # every case is a problem under these rules


def test_the_cases_find_what_they_say():
    conf = _conf("chartgen")
    text = PROBLEMS["trailing spaces in one entry"]
    assert [(f.line, f.message) for f in _split(text, conf)] == \
        [(_line_of(text, "  version: 0.1.37   "), "trailing spaces (trailing-spaces)")]
    conf = _conf("default")
    text = PROBLEMS["duplicate top-level key"]
    assert any("key-duplicates" in f.message and f.line == _line_of(text, "name: again") for f in _split(text, conf))
    text = PROBLEMS["too long line in one entry"]
    assert any("line-length" in f.message and f.line == _line_of(text, "  condition: flow-0041") for f in
               _split(text, conf))


@pytest.mark.parametrize("case", sorted(NOT_CUT))
def test_files_not_cut(case):
    from chartgen.chart.yamlsplit import pieces

    assert pieces(NOT_CUT[case], mean_block=4) is None
    assert _split(NOT_CUT[case], _conf("chartgen")) is None


@pytest.mark.parametrize("case", sorted(SYNTAX))
def test_syntax_error_in_a_piece_lints_the_whole_file(case):
    text = SYNTAX[case]
    conf = _conf("chartgen")
    assert any(f.message.startswith("syntax error") for f in _whole(text, conf))
    assert _split(text, conf) is None


def test_random_edits():
    """Random small edits of an umbrella's Chart.yaml: cut or not, the findings are yamllint's."""
    rng = random.Random(13)
    edits = ["   ", " #c", ": yes", "\n", "\n  extra: 1", "\n- name: new", "x" * 85, "\n   deep: 1", " - ",
             "\n  version: 2", "\n---", "'", "  ", "\n- name: yes", "\n  enabled: no"]
    conf = _conf("default")
    cut = 0
    for _ in range(40):
        lines = umbrella_text(24).split("\n")
        for _ in range(rng.randint(1, 3)):
            index = rng.randrange(len(lines) - 1)
            lines[index] += rng.choice(edits)
        text = "\n".join(lines)
        split = _split(text, conf)
        if split is not None:
            cut += 1
            assert split == _whole(text, conf), text
    assert cut >= 10, cut


def test_pieces_are_kept_by_their_text():
    """A changed version re-lints its own block and the head piece only; an added entry its
    own block; lines of the findings follow the file."""
    from chartgen.chart.lint import _split_findings

    conf = _conf("chartgen")
    memo = DictMemo()
    text = _edit(BASE, "  version: 0.1.50\n", "  version: 0.1.50  \n")
    assert _split(text, conf, memo) == _whole(text, conf)
    linted = []

    class Counting(DictMemo):
        def put(self, piece, path, findings):
            linted.append(piece)
            memo.put(piece, path, findings)

    counting = Counting()
    counting.store = memo.store
    changed = _edit(text, "  version: 0.1.7\n", "  version: 0.1.8\n")
    added = _edit(changed, "- name: flow-0003\n", "- name: flow-0002b\n  version: 1.0.0\n- name: flow-0003\n")
    for new in (changed, added):
        linted.clear()
        found = _split_findings(new, conf, Path("Chart.yaml"), "Chart.yaml", counting, mean_block=4)
        assert sorted(found, key=_order) == _whole(new, conf)
        assert [f.line for f in found] == [_line_of(new, "  version: 0.1.50  ")]
        assert 1 <= len(linted) <= 3, linted     # the head piece, one block (two when it got a new end)
