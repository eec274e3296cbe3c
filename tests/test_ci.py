"""chartgen.ci: GitHub Actions outputs and step summaries, Tekton result files."""

from __future__ import annotations

import io

from chartgen import ci
from chartgen.errors import Finding, register_secret


def github(monkeypatch, tmp_path):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "output"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary"))


def parse_outputs(text: str) -> dict:
    """Read $GITHUB_OUTPUT the way the runner does (name=value and name<<DELIM blocks)."""
    result, lines = {}, text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            result[name] = "\n".join(lines[i + 1:end])
            i = end + 1
        elif "=" in line:
            name, value = line.split("=", 1)
            result[name] = value
            i += 1
        else:
            i += 1
    return result


def test_outputs_single_and_multi_line(monkeypatch, tmp_path):
    github(monkeypatch, tmp_path)
    hostile = "line one\nghadelimiter_x\nname=evil\n"
    assert ci.set_outputs({"count": "2", "notes": hostile, "matrix": '{"include":[]}'})
    parsed = parse_outputs((tmp_path / "output").read_text())
    # The value's own lines (even one that looks like a delimiter or name=value) stay inside it.
    assert parsed == {"count": "2", "notes": hostile, "matrix": '{"include":[]}'}


def test_outputs_append_and_redact(monkeypatch, tmp_path):
    github(monkeypatch, tmp_path)
    register_secret("s3cr3t-token-value")
    ci.set_outputs({"a": "1"})
    ci.set_outputs({"b": "x s3cr3t-token-value y"})
    assert (tmp_path / "output").read_text() == "a=1\nb=x *** y\n"


def test_nothing_written_outside_github(monkeypatch, tmp_path):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "output"))
    assert not ci.set_outputs({"a": "1"})
    assert not ci.add_summary("# x")
    assert not (tmp_path / "output").exists()
    stream = io.StringIO()
    ci.annotate([Finding("a.yaml", 3, 4, "error", "bad", "code")], stream)
    assert stream.getvalue() == ""


def test_summary_markdown_table_escapes_cells(monkeypatch, tmp_path):
    github(monkeypatch, tmp_path)
    ci.add_summary("### build\n\n" + ci.markdown_table(["workflow", "error"], [["mta", "a|b <script>\nc"]]))
    text = (tmp_path / "summary").read_text()
    assert "| mta | a\\|b &lt;script>\\\\nc |" in text   # no tag; the newline shown as \n, as everywhere
    assert text.endswith("\n\n")


def test_annotations(monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    stream = io.StringIO()
    ci.annotate([Finding("w/a,b.yaml", 3, 4, "error", "50% bad\nnext", "some-code")], stream)
    # Findings are single-line from birth: the newline shows as \n, like in every other output.
    assert stream.getvalue() == "::error file=w/a%2Cb.yaml,line=3,col=4,title=some-code::50%25 bad\\nnext\n"


def test_tekton_results_every_declared_result_written(tmp_path):
    written = ci.write_tekton_results({"CHART_VERSION": "0.1.0-rc.1", "IMAGE_URL": "r/x:1"}, str(tmp_path / "res"))
    assert sorted(p.rsplit("/", 1)[1] for p in written) == sorted(ci.TEKTON_RESULTS)
    assert (tmp_path / "res" / "CHART_VERSION").read_text() == "0.1.0-rc.1"   # no newline
    assert (tmp_path / "res" / "PR_URL").read_text() == ""
    assert ci.write_tekton_results({"A": "b"}, None) == []


def test_tekton_results_of_an_earlier_step_are_kept(tmp_path):
    """The Task's PR step knows no image: it must not erase what the first step wrote."""
    results = str(tmp_path / "res")
    ci.write_tekton_results({"IMAGE_URL": "r/x:1", "CHART_VERSION": "0.1.0"}, results)
    ci.write_tekton_results({"PR_URL": "https://example.com/pr/1", "CHART_VERSION": "0.2.0"}, results)
    assert (tmp_path / "res" / "IMAGE_URL").read_text() == "r/x:1"
    assert (tmp_path / "res" / "CHART_VERSION").read_text() == "0.2.0"
    assert (tmp_path / "res" / "PR_URL").read_text() == "https://example.com/pr/1"
    assert (tmp_path / "res" / "IMAGE_DIGEST").read_text() == ""


def test_tekton_results_dir_from_env(monkeypatch):
    monkeypatch.setenv("CHARTGEN_TEKTON_RESULTS", "/tekton/results")
    assert ci.tekton_results_dir() == "/tekton/results"
    assert ci.tekton_results_dir("/x") == "/x"
