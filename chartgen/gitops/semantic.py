"""The semantic diff of a workflow: what a reviewer wants to know about a regenerated chart
in the workflow's own terms (states, transitions, functions, events, properties, Secret keys,
resource files), computed from the chart of the base and the regenerated chart
(`chartgen.gitops.snapshot`). Pure: snapshots in, a `WorkflowDiff` out; `chartgen.gitops.review`
writes it as Markdown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chartgen.chart.mermaid import as_list, transitions
from chartgen.gitops.snapshot import ChartSnapshot

# Flow keys with a category of their own; every other top-level key is a workflow setting.
_LISTED = ("states", "functions", "events")


@dataclass(frozen=True)
class Category:
    """Added, removed and changed items of one kind. An item is a tuple of raw strings:
    (name,) for most kinds, (source, target, label) for transitions; a changed item also
    carries what changed: (name, detail...)."""

    title: str
    added: tuple[tuple[str, ...], ...] = ()
    removed: tuple[tuple[str, ...], ...] = ()
    changed: tuple[tuple[str, ...], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    @property
    def counts(self) -> tuple[int, int, int]:
        return len(self.added), len(self.removed), len(self.changed)


@dataclass(frozen=True)
class WorkflowDiff:
    name: str
    old_version: str | None             # None: the base has no such chart (a new workflow)
    new_version: str
    categories: tuple[Category, ...] = ()
    highlight: dict[str, str] = field(default_factory=dict)     # state name -> added | changed
    flow: dict | None = None            # the new flow (for the diagram)
    notes: tuple[tuple[str, str], ...] = ()   # (what could not be compared, the error that says why)

    @property
    def is_new(self) -> bool:
        return self.old_version is None

    def category(self, title: str) -> Category:
        return next((c for c in self.categories if c.title == title), Category(title))


def _by_name(items: Any) -> dict[str, dict]:
    """name -> item of a list of named mappings (the first of a duplicated name)."""
    out: dict[str, dict] = {}
    for item in as_list(items):
        if isinstance(item, dict) and isinstance(item.get("name"), (str, int, float)):
            out.setdefault(str(item["name"]), item)
    return out


def _fields(old: dict, new: dict) -> str:
    """The top-level fields that differ between two items, in the order of the new one."""
    keys = list(dict.fromkeys([*new, *old]))
    return ", ".join(str(k) for k in keys if k != "name" and old.get(k) != new.get(k))


def _named(title: str, old: Any, new: Any) -> Category:
    before, after = _by_name(old), _by_name(new)
    return Category(title,
                    added=tuple((n,) for n in after if n not in before),
                    removed=tuple((n,) for n in before if n not in after),
                    changed=tuple((n, _fields(before[n], after[n])) for n in after
                                  if n in before and before[n] != after[n]))


def _mapping(title: str, old: dict[str, Any], new: dict[str, Any], with_values: bool = False) -> Category:
    def item(key: str, *values: Any) -> tuple[str, ...]:
        return (key, *(map(str, values) if with_values else ()))

    return Category(title,
                    added=tuple(item(k, new[k]) for k in sorted(new) if k not in old),
                    removed=tuple(item(k, old[k]) for k in sorted(old) if k not in new),
                    changed=tuple(item(k, old[k], new[k]) for k in sorted(new) if k in old and old[k] != new[k]))


def _settings(old: dict[str, Any], new: dict[str, Any]) -> Category:
    """Top-level flow keys other than states, functions and events; a changed mapping says
    which of its keys changed."""
    def detail(key: str) -> str:
        a, b = old[key], new[key]
        return _fields(a, b) if isinstance(a, dict) and isinstance(b, dict) else ""

    return Category("workflow settings",
                    added=tuple((k,) for k in new if k not in old),
                    removed=tuple((k,) for k in old if k not in new),
                    changed=tuple((k, detail(k)) for k in new if k in old and old[k] != new[k]))


def diff_workflow(name: str, old: ChartSnapshot | None, new: ChartSnapshot) -> WorkflowDiff:
    """What changed in workflow chart `name` from `old` (None: a new chart) to `new`."""
    notes = []
    if old is not None and old.flow is None:
        notes.append(("the base's chart ships no flow chartgen can read; its states show as added", old.render_error))
    if new.flow is None:
        notes.append(("the regenerated chart ships no flow chartgen can read", new.render_error))
    old_flow = (old.flow if old is not None else None) or {}
    new_flow = new.flow or {}
    before_edges, after_edges = transitions(old_flow), transitions(new_flow)
    settings_old = {k: v for k, v in old_flow.items() if k not in _LISTED}
    settings_new = {k: v for k, v in new_flow.items() if k not in _LISTED}
    empty = ChartSnapshot(name)
    before = old or empty
    categories = (
        _named("states", old_flow.get("states"), new_flow.get("states")),
        Category("transitions", added=tuple(e for e in after_edges if e not in before_edges),
                 removed=tuple(e for e in before_edges if e not in after_edges)),
        _named("functions", old_flow.get("functions"), new_flow.get("functions")),
        _named("events", old_flow.get("events"), new_flow.get("events")),
        _settings(settings_old, settings_new),
        _mapping("properties", before.properties, new.properties, with_values=True),
        Category("secret keys", added=tuple((k,) for k in sorted(new.secret_keys - before.secret_keys)),
                 removed=tuple((k,) for k in sorted(before.secret_keys - new.secret_keys))),
        _mapping("resource files", before.resources, new.resources),
    )
    states = categories[0]
    highlight = {item[0]: "added" for item in states.added}
    highlight.update({item[0]: "changed" for item in states.changed})
    return WorkflowDiff(name, old.version if old is not None else None, new.version, categories, highlight,
                        new.flow, tuple(notes))
