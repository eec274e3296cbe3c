"""The layering of docs/architecture.md holds: no upward import, no import across a layer, no
cycle, every module in a layer. The layer table is read from the document itself, so the
document and this check cannot drift apart."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "chartgen"
DOC = REPO / "docs" / "architecture.md"


def layer_table(text: str) -> dict[str, int]:
    """unit (top-level module or package of chartgen) -> layer number, from the doc's table."""
    layers: dict[str, int] = {}
    for line in text.splitlines():
        match = re.match(r"^\|\s*(\d+)\s*\|([^|]*)\|", line)
        if match:
            for unit in re.findall(r"`([^`]+)`", match.group(2)):
                assert unit not in layers, f"{unit} is in two layers of {DOC.name}"
                layers[unit] = int(match.group(1))
    return layers


def module_names() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """chartgen modules `name` imports anywhere in its code (module level or in a function)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from chartgen.x import y` imports chartgen.x.y when y is a module, else chartgen.x
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in modules else module
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:        # `import chartgen.x.y` of a name
                target = target.rpartition(".")[0]
            if target.startswith("chartgen") and target != name:
                found.add(target)
    return found


def unit_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "chartgen"


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def layering_problems(graph: dict[str, set[str]], layers: dict[str, int]) -> list[str]:
    problems = []
    for module in sorted(graph):
        if unit_of(module) not in layers:
            problems.append(f"{module} is in no layer of {DOC.name}")
            continue
        mine = layers[unit_of(module)]
        for target in sorted(graph[module]):
            unit = unit_of(target)
            if unit == unit_of(module) or unit not in layers:
                continue
            if layers[unit] > mine:
                problems.append(f"{module} (layer {mine}) imports {target} (layer {layers[unit]}): upward")
            elif layers[unit] == mine:
                problems.append(f"{module} imports {target}: both in layer {mine}")
    return problems


def test_the_layer_table_names_every_module_once():
    layers = layer_table(DOC.read_text(encoding="utf-8"))
    assert layers, f"no layer table in {DOC}"
    units = {unit_of(m) for m in module_names()}
    assert units == set(layers), (f"modules in no layer: {sorted(units - set(layers))}; "
                                  f"layers naming no module: {sorted(set(layers) - units)}")


def test_no_upward_import():
    problems = layering_problems(import_graph(), layer_table(DOC.read_text(encoding="utf-8")))
    assert not problems, "\n".join(problems)


def test_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_the_checks_catch_what_they_should(tmp_path: Path):
    layers = {"errors": 1, "chart": 9, "repo": 10}
    graph = {"chartgen.errors": set(), "chartgen.chart.generate": {"chartgen.repo.index"},
             "chartgen.repo.index": {"chartgen.chart.settings"}, "chartgen.chart.settings": set(),
             "chartgen.repo.reading": {"chartgen.repo.writing"}, "chartgen.repo.writing": {"chartgen.repo.reading"}}
    assert layering_problems(graph, layers) == [
        "chartgen.chart.generate (layer 9) imports chartgen.repo.index (layer 10): upward"]
    assert cycles(graph) == [["chartgen.repo.reading", "chartgen.repo.writing"]]
    assert layering_problems({"chartgen.newthing": set()}, layers) == [f"chartgen.newthing is in no layer of {DOC.name}"]
    # imports inside functions and relative imports count too
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from chartgen.repo.index import IndexFile\n    from . import settings\n"
                     "    import chartgen.gitops.engine\n", encoding="utf-8")
    modules = {**module_names(), "chartgen.chart.probe": probe}
    assert imports_of("chartgen.chart.probe", probe, modules) == {
        "chartgen.repo.index", "chartgen.chart.settings", "chartgen.gitops.engine"}


def test_version_imports_nothing_heavy():
    """`chartgen --version` stays fast: the entry point imports no library module."""
    code = ("import sys; sys.argv = ['chartgen', '--version']; import chartgen.entry as e; e.main(); "
            "print(sorted(m for m in sys.modules if m.startswith('chartgen') or m in "
            "('click', 'jinja2', 'yaml', 'jsonschema', 'helm_python', 'github')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.splitlines()[-1] == "['chartgen', 'chartgen.entry']"
