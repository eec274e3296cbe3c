"""The review section of pull request bodies without git: hostile names stay text (GitHub's
Markdown engine, Mermaid's parser and renderer), the section fits the limit however large the
change, secrets stay hidden."""

from __future__ import annotations

import re

import pytest

from chartgen.chart.mermaid import state_diagram
from chartgen.gitops.review import Section, code_fence, fit, md_code, workflow_section
from chartgen.gitops.semantic import diff_workflow
from chartgen.gitops.snapshot import HIDDEN, ChartSnapshot, hide_properties, is_sensitive
from conftest import REPO, need
from mermaid_check import (check_mermaid_blocks, chromium, github_html, grammar_errors, have_mermaid_parser,
                           mermaid_blocks, parse_with_mermaid, render_with_chromium, text_outside_code)

HOSTILE = ["a|b", "tick`s``x", "<img src=x onerror=alert(1)>", "@octocat", "#123", 'say "hi"',
           "%%{init: {'theme':'dark'}}%%", "x --> [*]", "</details>", "```", "[link](https://evil.example)",
           "*bold* _it_", "back\\slash|", "#60;img src=y#62;", "line\u2028two\u202eevil", "end"]


def hostile_flow(names=HOSTILE) -> dict:
    states = [{"name": name, "type": "inject", "data": {}, "transition": names[(i + 1) % len(names)]}
              for i, name in enumerate(names)]
    states[-1] = {"name": names[-1], "type": "switch",
                  "dataConditions": [{"name": name, "condition": "true", "transition": names[0]} for name in names[:3]],
                  "defaultCondition": {"end": True}}
    return {"start": names[0], "states": states,
            "functions": [{"name": n, "operation": n, "type": "custom"} for n in names[:4]],
            "events": [{"name": n, "kind": "consumed", "type": "t", "source": "s"} for n in names[4:8]]}


def hostile_section(old=None) -> str:
    new = ChartSnapshot("hostile", "0.1.0", hostile_flow(), {n: n for n in HOSTILE}, frozenset(HOSTILE[:3]),
                        {f"specs/{n}": n for n in HOSTILE[:3]},
                        {f"ConfigMap/{HOSTILE[2]}": "data:\n  x: ```\n  y: '@octocat #123'\n"})
    diff = diff_workflow("hostile", old, new)
    return workflow_section(diff, ((old.objects if old else {}), new.objects), ("", "")).text


def test_md_code_is_one_inert_code_span():
    assert md_code("plain") == "`plain`"
    assert md_code("a|b") == "`a\\|b`"
    assert md_code("a|b", cell=False) == "`a|b`"
    assert md_code("x``y") == "```x``y```"
    assert md_code("`x") == "`` `x ``"
    assert md_code("two\nlines\u2028x\u202e") == "`two lines x\\u202e`"
    assert md_code("") == "*(empty)*"
    assert md_code("0123456789", limit=5) == "`0123…`"
    assert code_fence("a\n```\n````x\n", "diff").startswith("`````diff\n")


def test_hostile_names_render_as_text_on_github():
    text = hostile_section()
    rendered = github_html(text)
    outside = text_outside_code(rendered)
    for bad in ("<img", "@octocat", "#123", "<a ", "evil.example", "<em>it", "<strong>"):
        assert bad not in outside, bad
    assert outside.count("<details>") == outside.count("</details>") == 1
    # every table row still has its four cells: no name split a row
    for row in re.findall(r"<tr>(.*?)</tr>", rendered, re.S):
        assert len(re.findall(r"<t[hd]>", row)) == 4, row
    names = [html for html in re.findall(r"<code>(.*?)</code>", rendered, re.S)]
    import html as html_module
    shown = {html_module.unescape(n).strip() for n in names}
    for name in HOSTILE:
        expected = name.replace("\u2028", " ").replace("\u202e", "\\u202e")
        assert expected in shown, name
    # the rendered diff stays inside its fence, its summary names the object as code
    assert "<summary><code>ConfigMap/&lt;img src=x onerror=alert(1)&gt;</code> added" in rendered


def test_hostile_names_make_a_valid_diagram():
    text = state_diagram(hostile_flow(), {HOSTILE[0]: "added", HOSTILE[2]: "changed"})
    assert grammar_errors(text) == []
    assert "%%" not in text and "<" not in text.split("\n", 1)[1].replace("-->", "")
    check_mermaid_blocks(hostile_section())


def test_mermaid_parser_accepts_the_diagrams():
    """Mermaid's own parser (npm mermaid, in jsdom) on the diagrams of hostile names and of
    every workflow of the repository, highlighted."""
    need(have_mermaid_parser(), "Mermaid's parser is not installed (npm ci --prefix tests/mermaid)")
    from chartgen.sources import load_workflow

    flows = [hostile_flow()]
    for folder in sorted((REPO / "workflow_sources").iterdir()):
        if folder.is_dir() and folder.name != "shared":
            flows.append(load_workflow(folder).workflow)
    diagrams = [state_diagram(flow, {s["name"]: "changed" for s in flow["states"][:2]}) for flow in flows]
    assert all(grammar_errors(d) == [] for d in diagrams)
    results = parse_with_mermaid(diagrams + ["stateDiagram-v2\n    s0 -->\n"])
    assert all(r["ok"] and r["type"] == "stateDiagram" for r in results[:-1]), results
    assert not results[-1]["ok"]                                    # the parser does refuse bad input


def test_mermaid_draws_hostile_names_as_text(tmp_path):
    need(have_mermaid_parser(), "Mermaid is not installed (npm ci --prefix tests/mermaid)")
    need(chromium() is not None, "chromium is not installed (Debian package chromium)")
    (block,) = mermaid_blocks(hostile_section())
    texts, elements = render_with_chromium(block, tmp_path)
    assert not {"img", "script", "a", "iframe"} & set(elements), elements
    joined = " | ".join(texts)
    # the characters Mermaid gives a meaning to are gone, the rest is the name, as text
    for expected in ("a b", "img src=x onerror=alert(1)", "@octocat", "123", "say hi", "x -- [*]",
                     "[link](https //evil.example)", "line two evil", "(unnamed)"):
        assert expected in joined, (expected, texts)
    assert "ﬂ°" not in joined                                      # no undecoded entity placeholder
    assert "\u202e" not in joined and "\u2028" not in joined        # no bidi override, no odd line break


def test_state_diagram_highlights_added_and_changed_states():
    flow = {"start": "A", "states": [{"name": "A", "transition": "B"}, {"name": "B", "end": True},
                                     {"name": "C", "end": True}]}
    text = state_diagram(flow, {"B": "added", "C": "changed", "gone": "added"})
    assert text.endswith("    classDef added fill:#dafbe1,stroke:#1a7f37,color:#1f2328\n"
                         "    classDef changed fill:#fff8c5,stroke:#9a6700,color:#1f2328\n"
                         "    class s1 added\n    class s2 changed\n")
    assert state_diagram(flow) == state_diagram(flow, {})            # the chart README's form is unchanged
    assert "classDef" not in state_diagram(flow)


def test_sensitive_properties_are_hidden():
    assert is_sensitive("quarkus.openapi-generator.x.auth.basicAuth.password")
    assert is_sensitive("api.key") and is_sensitive("my.Token") and is_sensitive("client-secret")
    assert not is_sensitive("quarkus.log.level") and not is_sensitive("keycloak.url")
    text = "a=1\n# comment\nb.password = s3cret\\\n  continued\nc.url: http://x\n"
    hidden = hide_properties(text)
    assert "s3cret" not in hidden and "continued" not in hidden
    assert hidden == f"a=1\n# comment\nb.password={HIDDEN}\nc.url: http://x\n"


def test_changed_values_of_sensitive_properties_are_not_shown():
    old = ChartSnapshot("w", "1.0.0", {"states": []}, {"db.password": "old-pass", "url": "http://a"})
    new = ChartSnapshot("w", "1.0.1", {"states": []}, {"db.password": "new-pass", "url": "http://b"})
    text = workflow_section(diff_workflow("w", old, new), ({}, {}), ("", "")).text
    assert "old-pass" not in text and "new-pass" not in text
    assert "`db.password` (value hidden)" in text and "`url`: `http://a` → `http://b`" in text


def big_section(number: int, states: int, diff_lines: int) -> Section:
    names = [f"state-{number}-{i}" for i in range(states)]
    flow = {"states": [{"name": n, "transition": names[(i + 1) % states]} for i, n in enumerate(names)]}
    old_flow = {"states": [{"name": n, "type": "x"} for n in names[: states // 2]]}
    old = ChartSnapshot(f"w{number}", "1.0.0", old_flow, objects={"ConfigMap/c": "a\n" * diff_lines})
    new = ChartSnapshot(f"w{number}", "1.0.1", flow, objects={"ConfigMap/c": "b\n" * diff_lines,
                                                                   "SonataFlow/s": "x: 1\n" * 10})
    return workflow_section(diff_workflow(f"w{number}", old, new), (old.objects, new.objects), ("", ""))


@pytest.mark.parametrize("workflows,states,diff_lines,budget", [
    (1, 10, 20_000, 50_000),        # one huge rendered diff
    (30, 40, 500, 50_000),          # many medium workflows: diffs, then diagrams go
    (300, 200, 200, 50_000),        # a run of 300 large workflows: whole workflows summarised
    (3000, 5, 5, 50_000),           # more workflows than one-liners fit: the list is cut
    (5, 10, 10, 1_000),             # almost no room
])
def test_fit_stays_within_the_budget_and_says_what_was_cut(workflows, states, diff_lines, budget):
    sections = [big_section(n, states, diff_lines) for n in range(workflows)]
    full = sum(len(s.text) for s in sections)
    text = fit(sections, budget)
    assert len(text) <= budget
    assert full > budget and text.startswith("*Shortened to fit GitHub's limit on pull request bodies: ")
    assert "The Files tab has every change." in text.split("\n", 1)[0]
    if workflows == 1:
        assert "1 rendered diff summarised" in text and "```mermaid" in text   # the diagram stays
        assert "<code>ConfigMap/c</code> changed: +20000 −20000 lines (diff left out to fit)" in text
    if workflows == 3000:
        assert re.search(r"- … and \d+ more workflows: see the Files tab\n$", text)


def test_fit_leaves_a_small_change_whole():
    sections = [big_section(0, 4, 3)]
    assert fit(sections, 60_000) == sections[0].text
    assert "Shortened" not in sections[0].text


def test_unreadable_flow_is_noted_with_the_error_as_code():
    old = ChartSnapshot("w", "1.0.0", None, render_error="helm cannot render it: @octocat #123 <b>")
    new = ChartSnapshot("w", "1.0.1", {"states": [{"name": "A", "end": True}]})
    text = workflow_section(diff_workflow("w", old, new), ({}, {}), (old.render_error, ""))
    outside = text_outside_code(github_html(text.text))
    assert "its states show as added" in outside
    assert "@octocat" not in outside and "#123" not in outside and "<b>" not in outside
    assert "*Rendered objects not compared: the base's chart does not render" in text.text


def test_registered_secrets_do_not_blank_the_section(monkeypatch, tmp_path):
    """secret.properties values chartgen read in this process are registered for redaction;
    one that is an ordinary word ("default") must not blank the section's text."""
    import shutil
    import subprocess
    from types import SimpleNamespace

    from chartgen import errors
    from chartgen.gitops.git import Git
    from chartgen.gitops.model import ChartChange
    from chartgen.gitops.review import review_section

    repo = tmp_path / "repo"
    shutil.copytree(REPO / "charts" / "greeting", repo / "charts" / "greeting")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "base"],
                 ["update-ref", "refs/remotes/origin/main", "HEAD"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env={**env, "PATH": "/usr/bin:/bin"})
    flow = repo / "charts/greeting/files/flow.yaml"
    flow.write_text(flow.read_text().replace("greeting: Hello", "greeting: Hi"))
    monkeypatch.setattr(errors, "_SECRETS", {"default"})
    run = SimpleNamespace(git=Git(repo), base="main", charts_dir="charts")
    text = review_section(run, [ChartChange("greeting", "0.1.0", "0.1.1")], 60_000)
    assert text.startswith("### Workflow changes\n\n#### `greeting` (")
    assert "`GreetInEnglish` (`data`)" in text
    assert "Helm, default values" in text and "***" not in text
