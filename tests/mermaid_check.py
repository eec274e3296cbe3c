"""Checks of the Mermaid diagrams and the Markdown chartgen writes into pull request bodies.

- `grammar_errors`: the subset of `stateDiagram-v2` chartgen writes (state declarations,
  transitions, classDef/class), every id declared, labels free of the characters Mermaid
  gives a meaning to. Always available.
- `parse_with_mermaid`: Mermaid's own parser (the npm package, run by node in jsdom; install
  with `npm ci --prefix tests/mermaid`).
- `render_with_chromium`: Mermaid's renderer in headless Chromium (Debian `chromium`), the
  texts and elements of the SVG it draws.
- `github_html`: Markdown as GitHub renders it (cmark-gfm, through `cmarkgfm`).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

MERMAID_DIR = Path(__file__).parent / "mermaid"
MERMAID_JS = MERMAID_DIR / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"

_LABEL = r'[^"\n:;#%{}<>|`\\]+'
_ID = r"s\d+"
_LINES = [
    re.compile(rf'state "(?P<label>{_LABEL})" as (?P<id>{_ID})'),
    re.compile(rf"\[\*\] --> (?P<to>{_ID})"),
    re.compile(rf"(?P<from>{_ID}) --> (?P<to>{_ID}|\[\*\])(?:: (?P<label>{_LABEL}))?"),
    re.compile(r"classDef (?P<class>\w+) [\w#:,.-]+"),
    re.compile(rf"class (?P<ids>{_ID}(?:,{_ID})*) (?P<use>\w+)"),
]


def mermaid_blocks(markdown: str) -> list[str]:
    return [m.group(2) for m in re.finditer(r"^(`{3,})mermaid\n(.*?)^\1$", markdown, re.S | re.M)]


def grammar_errors(diagram: str) -> list[str]:
    lines = diagram.rstrip("\n").split("\n")
    if lines[0] != "stateDiagram-v2":
        return [f"first line {lines[0]!r}"]
    errors, declared, classes, used_ids, used_classes = [], set(), set(), set(), set()
    for number, line in enumerate(lines[1:], 2):
        if not line.startswith("    "):
            errors.append(f"line {number}: not indented: {line!r}")
            continue
        match = next((m for m in (p.fullmatch(line[4:]) for p in _LINES) if m), None)
        if match is None:
            errors.append(f"line {number}: not chartgen's grammar: {line!r}")
            continue
        groups = match.groupdict()
        if groups.get("id"):
            declared.add(groups["id"])
        for key in ("from", "to"):
            if groups.get(key) and groups[key] != "[*]":
                used_ids.add(groups[key])
        if groups.get("ids"):
            used_ids.update(groups["ids"].split(","))
        if groups.get("class"):
            classes.add(groups["class"])
        if groups.get("use"):
            used_classes.add(groups["use"])
        label = groups.get("label")
        if label is not None and (label != label.strip() or "%%" in label or "-->" in label):
            errors.append(f"line {number}: label {label!r}")
    errors += [f"undeclared state {i}" for i in sorted(used_ids - declared)]
    errors += [f"undefined class {c}" for c in sorted(used_classes - classes)]
    return errors


def have_mermaid_parser() -> bool:
    return shutil.which("node") is not None and (MERMAID_DIR / "node_modules" / "mermaid").is_dir() \
        and (MERMAID_DIR / "node_modules" / "jsdom").is_dir()


def parse_with_mermaid(diagrams: list[str]) -> list[dict]:
    """Mermaid's verdict on each diagram: {"ok": True, "type": ...} or {"ok": False, "error": ...}."""
    proc = subprocess.run(["node", str(MERMAID_DIR / "parse.mjs")], input=json.dumps(diagrams), text=True,
                          capture_output=True, timeout=120, cwd=MERMAID_DIR)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def render_with_chromium(diagram: str, workdir: Path) -> tuple[list[str], list[str]]:
    """(texts, element names) of the SVG Mermaid draws for `diagram` in headless Chromium."""
    text = json.dumps(diagram).replace("</", "<\\/")
    page = workdir / "mermaid.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'></head><body><div id='out'></div>"
        f"<script src='{MERMAID_JS.as_uri()}'></script><script>"
        "mermaid.initialize({startOnLoad: false, securityLevel: 'strict'});"
        f"mermaid.render('d', {text}).then(r => {{ document.getElementById('out').innerHTML = r.svg; "
        "document.title = 'rendered'; }, e => { document.title = 'error: ' + e.message; });"
        "</script></body></html>", encoding="utf-8")
    proc = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
                           f"--user-data-dir={workdir / 'profile'}", "--virtual-time-budget=20000", "--dump-dom",
                           page.as_uri()], capture_output=True, text=True, timeout=120)
    title = re.search(r"<title>(.*?)</title>", proc.stdout, re.S)
    assert title and title.group(1) == "rendered", (title.group(1) if title else proc.stderr[-2000:])
    svg = re.search(r"<svg.*</svg>", proc.stdout, re.S).group(0)
    svg = re.sub(r"<br\s*/?>", "<br/>", svg)
    root = ET.fromstring(svg)
    elements = sorted({el.tag.split("}")[-1] for el in root.iter()})
    texts = [" ".join(t.split()) for el in root.iter() if el.tag.split("}")[-1] not in ("style",)
             for t in [el.text or ""] if t.strip()]
    return texts, elements


def github_html(markdown: str) -> str:
    """`markdown` as GitHub's Markdown engine (cmark-gfm) renders it, raw HTML let through
    (GitHub then sanitises it; the tests check nothing needs sanitising)."""
    import cmarkgfm
    from cmarkgfm.cmark import Options

    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def text_outside_code(rendered: str) -> str:
    """The rendered HTML with every <code>/<pre> element taken out: where GitHub links
    mentions (@user) and references (#123), and where raw HTML would act."""
    return re.sub(r"<pre[^>]*>.*?</pre>|<code>.*?</code>", "", rendered, flags=re.S)


def check_mermaid_blocks(markdown: str) -> None:
    """Every Mermaid block of `markdown` is in chartgen's grammar; Mermaid's own parser accepts
    it when that parser is installed (test_mermaid_parser_* require it)."""
    blocks = mermaid_blocks(markdown)
    for block in blocks:
        assert grammar_errors(block) == [], block
    if blocks and have_mermaid_parser():
        results = parse_with_mermaid(blocks)
        assert all(r["ok"] and r["type"] == "stateDiagram" for r in results), results


def unescape(text: str) -> str:
    return html.unescape(text)
