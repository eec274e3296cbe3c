"""The part of a pull request body a reviewer judges the change by, per workflow: the
semantic diff (`chartgen.gitops.semantic`) as a table, the Mermaid state diagram of the new
flow with added and changed states highlighted, and a collapsed unified diff of each object
Helm renders with default values (the base's chart vs the regenerated one).

Everything taken from a workflow or a chart is made inert where it lands: names are code spans
(no mention, no issue link, no HTML, `|` escaped for tables), diagram labels lose the
characters Mermaid gives a meaning to (its `#quot;` entity codes are not decoded in state
diagram labels by Mermaid 11, mermaid-js/mermaid#7015, so they cannot be used), and diffs sit
in fenced blocks whose fence is longer than any backtick run they hold.

The section fits the room the rest of the body leaves under GitHub's limit: when it would
not, the largest rendered diffs are summarised first (a line with their size), then the
largest diagrams, then the largest tables (one line of counts), then whole workflows, and a
note at the top says what was cut.
"""

from __future__ import annotations

import difflib
import html
import re
import tarfile
from dataclasses import dataclass, field

from chartgen.chart.mermaid import END, named_states, state_diagram, transitions
from chartgen.errors import ChartgenError, printable
from chartgen.gitops.semantic import Category, WorkflowDiff, diff_workflow
from chartgen.gitops.snapshot import HIDDEN, base_snapshots, is_sensitive, new_snapshot
from chartgen.markdown import code

HEADING = "### Workflow changes"
MAX_ITEMS = 25              # items listed per table cell; the rest are counted
MAX_VALUE = 60              # characters of a property value shown
MAX_DIFF_INPUT = 400_000    # characters of an object compared line by line; larger ones are only counted
MERMAID_MAX_TEXT = 50_000   # Mermaid's default maxTextSize: a larger diagram is refused by the renderer
MERMAID_MAX_EDGES = 500     # Mermaid's default maxEdges
NOTE_ROOM = 400             # room kept for the note saying what was cut
_CUT_ORDER = ("diff", "diagram", "table")
_CUT_WORDS = {"diff": ("rendered diff", "rendered diffs"), "diagram": ("diagram", "diagrams"),
              "table": ("change table", "change tables"), "workflow": ("workflow", "workflows")}


# ------------------------------------------------------------------------------- Markdown

def md_code(text: object, *, cell: bool = True, limit: int = 0) -> str:
    """`text` as one inline code span (chartgen.markdown.code), cut to `limit` characters;
    in a table cell (`cell`) its `|` escaped as GFM wants."""
    text = " ".join(str(text).splitlines())
    if limit and len(text) > limit:
        text = text[:limit - 1] + "…"
    return code(text, in_table=cell) or "*(empty)*"


def code_fence(content: str, info: str = "") -> str:
    """A fenced code block holding `content` whatever it contains."""
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", content)), default=0) + 1)
    return f"{fence}{info}\n{content.rstrip(chr(10))}\n{fence}\n"


def _list(items: list[str]) -> str:
    shown = items[:MAX_ITEMS]
    more = len(items) - len(shown)
    return ", ".join(shown) + (f", … and {more} more" if more > 0 else "")


def _item(category: Category, item: tuple[str, ...], how: str) -> str:
    title = category.title
    if title == "transitions":
        source, target, label = item
        arrow = f"{md_code(source)} → " + ("*end*" if target == END else md_code(target))
        return arrow + (f" ({md_code(label)})" if label else "")
    if title == "properties":
        key = item[0]
        if is_sensitive(key):
            return f"{md_code(key)} (value hidden)" if how != "removed" else md_code(key)
        if how == "added":
            return f"{md_code(key)} = {md_code(item[1], limit=MAX_VALUE)}"
        if how == "changed":
            return f"{md_code(key)}: {md_code(item[1], limit=MAX_VALUE)} → {md_code(item[2], limit=MAX_VALUE)}"
        return md_code(key)
    if how == "changed" and len(item) > 1 and item[1]:
        return f"{md_code(item[0])} ({md_code(item[1])})"
    return md_code(item[0])


def change_table(diff: WorkflowDiff) -> str:
    rows = ["| | added | removed | changed |", "| --- | --- | --- | --- |"]
    for category in diff.categories:
        if not category:
            continue
        cells = [_list([_item(category, item, how) for item in items])
                 for how, items in (("added", category.added), ("removed", category.removed),
                                    ("changed", category.changed))]
        rows.append(f"| {category.title} | " + " | ".join(c or " " for c in cells) + " |")
    if len(rows) == 2:
        return "No change to the workflow: states, transitions, functions, events, properties, " \
               "Secret keys and resource files are as the base has them.\n"
    return "\n".join(rows) + "\n"


def counts_line(diff: WorkflowDiff) -> str:
    """One line of counts: `states +2 −1 ~3, transitions +4 −2`."""
    parts = []
    for category in diff.categories:
        if category:
            added, removed, changed = category.counts
            numbers = " ".join(f"{sign}{n}" for sign, n in (("+", added), ("−", removed), ("~", changed)) if n)
            parts.append(f"{category.title} {numbers}")
    return ", ".join(parts) or "no change to the workflow"


def diagram(diff: WorkflowDiff) -> str:
    flow = diff.flow or {}
    states = named_states(flow)
    if not states:
        return ""
    edges = len(transitions(flow))
    text = state_diagram(flow, diff.highlight)
    if len(text) > MERMAID_MAX_TEXT or edges > MERMAID_MAX_EDGES:
        return (f"*State diagram left out: {len(states)} states and {edges} transitions are more than "
                "Mermaid draws (the chart's README lists them).*\n")
    legend = [f"{colour} {kind}" for kind, colour in (("added", "green"), ("changed", "yellow"))
              if kind in diff.highlight.values() and not diff.is_new]
    removed = [md_code(item[0], cell=False) for item in diff.category("states").removed]
    lines = ([f"Highlighted states: {', '.join(legend)}."] if legend else []) \
        + ([f"Removed states: {_list(removed)}."] if removed else [])
    return code_fence(text, "mermaid") + ("\n" + " ".join(lines) + "\n" if lines else "")


# ------------------------------------------------------------------------ rendered diffs

@dataclass
class Part:
    kind: str                       # fixed | diff | diagram | table
    full: str
    short: str = ""
    cut: bool = False

    @property
    def text(self) -> str:
        return self.short if self.cut else self.full

    @property
    def saving(self) -> int:
        return len(self.full) - len(self.short)


@dataclass
class Section:
    name: str
    parts: list[Part] = field(default_factory=list)
    oneline: str = ""
    collapsed: bool = False

    @property
    def text(self) -> str:
        return self.oneline if self.collapsed else "".join(p.text for p in self.parts)


def _object_diff(key: str, old: str | None, new: str | None) -> Part | None:
    if old == new:
        return None
    state = "added" if old is None else "removed" if new is None else "changed"
    before, after = (old or "").splitlines(), (new or "").splitlines()
    label = f"<code>{html.escape(printable(key))}</code>"
    if len(old or "") + len(new or "") > MAX_DIFF_INPUT:
        line = f"- {label} {state}: {len(before)} → {len(after)} lines, too large to compare here\n"
        return Part("fixed", line)
    lines = list(difflib.unified_diff(before, after, f"a/{key}" if old is not None else "/dev/null",
                                      f"b/{key}" if new is not None else "/dev/null", lineterm="", n=3))
    plus = sum(1 for line in lines[2:] if line.startswith("+"))
    minus = sum(1 for line in lines[2:] if line.startswith("-"))
    summary = f"{label} {state}: +{plus} −{minus} lines"
    body = "\n".join(printable(line) for line in lines)
    full = f"<details><summary>{summary}</summary>\n\n{code_fence(body, 'diff')}\n</details>\n\n"
    return Part("diff", full, f"- {summary} (diff left out to fit)\n\n")


def rendered_parts(old: dict[str, str], new: dict[str, str], *, old_error: str = "",
                   new_error: str = "") -> list[Part]:
    """A heading line and one collapsed diff per object that differs."""
    if new_error or old_error:
        which = "regenerated chart" if new_error else "base's chart"
        return [Part("fixed", f"*Rendered objects not compared: the {which} does not render "
                              f"({md_code(new_error or old_error, cell=False, limit=300)}).*\n\n")]
    keys = list(dict.fromkeys([*new, *old]))
    parts = [p for p in (_object_diff(k, old.get(k), new.get(k)) for k in keys) if p is not None]
    same = sum(1 for k in keys if old.get(k) == new.get(k))
    if not parts:
        return [Part("fixed", f"Rendered objects (Helm, default values): the {same} objects are unchanged.\n\n")]
    head = (f"Rendered objects (Helm, default values): {len(parts)} {'differs' if len(parts) == 1 else 'differ'}"
            + (f", {same} unchanged" if same else "")
            + f". Secret values and the values of credential-like properties show as `{HIDDEN}`.\n\n")
    return [Part("fixed", head), *parts]


# ------------------------------------------------------------------------------ sections

def workflow_section(diff: WorkflowDiff, objects: tuple[dict, dict], errors: tuple[str, str]) -> Section:
    version = (f"{diff.old_version} → {diff.new_version}" if diff.old_version not in (None, diff.new_version)
               else f"new, {diff.new_version}" if diff.is_new else diff.new_version)
    head = f"#### {md_code(diff.name, cell=False)} ({version})\n\n"
    intro = "New workflow: everything is added.\n\n" if diff.is_new else ""
    notes = "".join(f"*Note: {what}*" + (f" ({md_code(why, cell=False, limit=300)})" if why else "") + ".\n\n"
                    for what, why in diff.notes)
    table = change_table(diff)
    parts = [Part("fixed", head + intro + notes),
             Part("table", table + "\n", f"Changes: {counts_line(diff)}.\n\n")]
    picture = diagram(diff)
    if picture:
        states = len(named_states(diff.flow or {}))
        parts.append(Part("diagram", picture + "\n", f"*State diagram left out to fit ({states} states).*\n\n"))
    parts += rendered_parts(*objects, old_error=errors[0], new_error=errors[1])
    oneline = f"- {md_code(diff.name, cell=False)} ({version}): {counts_line(diff)}\n"
    return Section(diff.name, parts, oneline)


def fit(sections: list[Section], budget: int) -> str:
    """The sections as one text of at most `budget` characters, cutting as the module says."""
    total = sum(len(s.text) for s in sections)
    if total <= budget:
        return "".join(s.text for s in sections)
    target = budget - NOTE_ROOM
    cuts = dict.fromkeys((*_CUT_ORDER, "workflow"), 0)
    for kind in _CUT_ORDER:
        for part in sorted((p for s in sections for p in s.parts if p.kind == kind and p.saving > 0),
                           key=lambda p: p.saving, reverse=True):
            if total <= target:
                break
            part.cut, total, cuts[kind] = True, total - part.saving, cuts[kind] + 1
    for section in sorted(sections, key=lambda s: len(s.text) - len(s.oneline), reverse=True):
        if total <= target:
            break
        total -= len(section.text) - len(section.oneline)
        section.collapsed, cuts["workflow"] = True, cuts["workflow"] + 1
    texts, tail, size = [], "", 0
    for index, section in enumerate(sections):
        if total > target and size + len(section.text) > target - 100:   # room for the "… and N more" line
            left = len(sections) - index
            tail = f"- … and {left} more workflow{'s' * (left != 1)}: see the Files tab\n"
            break
        texts.append(section.text)
        size += len(section.text)
    done = [f"{n} {_CUT_WORDS[k][n != 1]}" for k, n in cuts.items() if n]
    note = ("*Shortened to fit GitHub's limit on pull request bodies: "
            + (", ".join(done) + " summarised" if done else "")
            + ("; " if done and tail else "") + ("not every workflow is listed" if tail else "")
            + ". The Files tab has every change.*\n\n")
    return note + "".join(texts) + tail


def review_section(run, changes, budget: int) -> str:
    """The "Workflow changes" section for `changes` (ChartChange), at most `budget` characters
    ("" when there is no room or nothing to show)."""
    if budget < 2 * NOTE_ROOM or run.git is None:
        return ""
    base_ref = f"refs/remotes/origin/{run.base}"
    changes = [c for c in changes if c.new_version]     # a removal: the Files list says it all
    sections = []
    try:
        olds = base_snapshots(run.git, base_ref, run.charts_dir, [c.name for c in changes])
    except (ChartgenError, OSError, tarfile.TarError) as exc:
        reason = exc.findings[0].message if isinstance(exc, ChartgenError) and exc.findings else str(exc)
        return f"{HEADING}\n\n*Not compared: the base's charts cannot be read ({md_code(reason, cell=False, limit=300)}).*\n"
    shortest = 0    # the size of the section if every workflow were one line
    for index, change in enumerate(changes):
        if shortest > budget:   # the workflows from here on cannot be shown: only counted
            sections += [Section(c.name, [], f"- {md_code(c.name, cell=False)}\n", True) for c in changes[index:]]
            break
        try:
            new = new_snapshot(run.git, run.charts_dir, change.name)
            if new is None:
                continue
            old = olds[change.name]()
            diff = diff_workflow(change.name, old, new)
            objects = ((old.objects if old else {}), new.objects)
            sections.append(workflow_section(diff, objects, ((old.render_error if old else ""), new.render_error)))
            shortest += len(sections[-1].oneline)
        except (ChartgenError, OSError, ValueError, RecursionError) as exc:
            reason = exc.findings[0].message if isinstance(exc, ChartgenError) and exc.findings else str(exc)
            sections.append(Section(change.name, [Part("fixed", f"#### {md_code(change.name, cell=False)}\n\n"
                                                       f"*Not compared: {md_code(reason, cell=False, limit=300)}.*\n\n")],
                                    f"- {md_code(change.name, cell=False)}: not compared\n"))
    if not sections:
        return ""
    head = f"{HEADING}\n\n"
    # Not passed through `redact`: the section shows only what the charts hold (already on the
    # Files tab, and Secret values never reach a chart), and redacting the values of every
    # secret.properties chartgen has read in this process would blank ordinary words.
    text = head + fit(sections, budget - len(head) - 2)
    return text if len(text) <= budget else ""


def with_review(body: str, run, changes, limit: int) -> str:
    """`body` with the review section inserted before its "### Files" heading (at the end
    when it has none), in the room `limit` leaves."""
    section = review_section(run, changes, limit - len(body) - 2)
    if not section:
        return body
    marker = "\n### Files\n"
    at = body.find(marker)
    if at < 0:
        return body.rstrip("\n") + "\n\n" + section
    return body[:at + 1] + section + "\n" + body[at + 1:]
