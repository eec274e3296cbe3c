"""YAML/JSON documents with source positions, and deterministic YAML output.

Reading uses libyaml's C composer (PyYAML ``CSafeLoader``) and walks the node tree in
Python: that keeps the line/column of every node for ``file:line:col`` findings and is
about 15x faster than a pure-Python position-keeping parser on the 322 KiB OpenAPI
files of the corpus. Values follow YAML 1.1, as Kubernetes tooling (go-yaml v2) reads
them; the places where YAML 1.1 and 1.2 disagree are recorded as findings.

Every YAML text is checked before it is composed (`check_yaml`): aliases may add at most
`limits.maxYamlAliasNodes` nodes and `limits.maxYamlAliasSize` characters when expanded
(an alias bomb is 600 bytes that expand to gigabytes), and nesting is at most `MAX_DEPTH`
deep (libyaml's C composer recurses and crashes the interpreter near 30,000 levels, which
`[[[[...` reaches in 60 KB). Both are found on the parser's event stream, which costs far
less than the composed tree, and only run when the text could exceed them.

Writing produces Kubernetes-style YAML (sorted keys, unindented sequences, literal
blocks for multi-line strings), byte-identical for equal input.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

from chartgen.errors import ERROR, WARNING, ChartgenError, Finding

Pointer = tuple  # path of keys/indexes from the document root, e.g. ("states", 0, "name")

_YAML11_BOOL_WORDS = {"yes", "no", "on", "off", "y", "n"}
# Deeper documents are refused: the Python walkers (this module's, jsonschema's, json's)
# stop near 1,000 frames anyway, and libyaml's composer crashes the process near 30,000.
MAX_DEPTH = 400
_constructor = yaml.constructor.SafeConstructor()


@dataclass(frozen=True)
class Document:
    """A parsed YAML or JSON document plus where each node came from."""

    path: str
    data: Any
    # pointer -> (line, column) of the node's value; 1-based.
    marks: Mapping[Pointer, tuple[int, int]] = field(default_factory=dict, repr=False)
    # pointer -> (line, column) of the mapping KEY that names the node (for "unknown key" messages).
    key_marks: Mapping[Pointer, tuple[int, int]] = field(default_factory=dict, repr=False)
    # Findings made while reading (duplicate keys, YAML 1.1 traps).
    findings: tuple[Finding, ...] = ()
    is_json: bool = False

    def where(self, pointer: Pointer) -> tuple[int, int]:
        """Position of `pointer`, or of its nearest ancestor that has one."""
        pointer = tuple(pointer)
        while pointer:
            if pointer in self.marks:
                return self.marks[pointer]
            pointer = pointer[:-1]
        return self.marks.get((), (1, 1))

    def where_key(self, pointer: Pointer) -> tuple[int, int]:
        """Position of the key naming `pointer` (falls back to the value's position)."""
        pointer = tuple(pointer)
        return self.key_marks.get(pointer) or self.where(pointer)

    def get(self, pointer: Pointer, default: Any = None) -> Any:
        node = self.data
        for part in pointer:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return default
        return node


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Walker:
    def __init__(self, path: str) -> None:
        self.path = path
        self.marks: dict[Pointer, tuple[int, int]] = {}
        self.key_marks: dict[Pointer, tuple[int, int]] = {}
        self.findings: list[Finding] = []

    def note(self, node: yaml.Node, severity: str, message: str, code: str) -> None:
        line, col = _mark(node)
        self.findings.append(Finding(self.path, line, col, severity, message, code))

    def value(self, node: yaml.Node, pointer: Pointer) -> Any:
        self.marks[pointer] = _mark(node)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, pointer)
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, pointer + (i,)) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, pointer)
        raise ChartgenError("unsupported YAML node", path=self.path, line=_mark(node)[0])

    def mapping(self, node: yaml.MappingNode, pointer: Pointer) -> dict:
        result: dict = {}
        key_nodes: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged = self.value(value_node, pointer + ("<<",))
                for source in merged if isinstance(merged, list) else [merged]:
                    if isinstance(source, dict):
                        for k, v in source.items():
                            result.setdefault(k, v)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.note(key_node, ERROR, "complex (non-scalar) mapping keys are not supported", "yaml-key")
                continue
            key = self.scalar(key_node, pointer, is_key=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                key = str(key)
            if key in key_nodes:
                first = _mark(key_nodes[key])
                self.note(key_node, ERROR,
                          f"duplicate key {key!r} (first defined at line {first[0]}); "
                          "YAML tools disagree on which one wins", "duplicate-key")
            key_nodes[key] = key_node
            self.key_marks[pointer + (key,)] = _mark(key_node)
            result[key] = self.value(value_node, pointer + (key,))
        return result

    def scalar(self, node: yaml.ScalarNode, pointer: Pointer, is_key: bool = False) -> Any:
        # libyaml reports plain scalars with style '' (the pure-Python parser with None).
        tag, text, plain = node.tag, node.value, not node.style
        if plain and text.lower() in _YAML11_BOOL_WORDS:
            truth = text.lower() in ("yes", "on", "y")
            if is_key:
                # Keys stay text here (x/y coordinates, `on:` triggers); the warning says what
                # YAML 1.1 readers would make of them.
                self.note(node, WARNING,
                          f"unquoted key {text!r} is the boolean {truth} for YAML 1.1 readers such as "
                          "Kubernetes; quote it", "yaml11-boolean")
                return text
            where = "/".join(map(str, pointer)) or "document"
            self.note(node, WARNING,
                      f"unquoted {text!r} (value of {where}) is the boolean {truth} for YAML 1.1 readers "
                      "such as Kubernetes; quote it if a string is meant", "yaml11-boolean")
            return truth
        try:
            if tag == "tag:yaml.org,2002:str":
                return text
            if tag == "tag:yaml.org,2002:bool":
                return _constructor.construct_yaml_bool(node)
            if tag == "tag:yaml.org,2002:int":
                return _constructor.construct_yaml_int(node)
            if tag == "tag:yaml.org,2002:float":
                return _constructor.construct_yaml_float(node)
            if tag == "tag:yaml.org,2002:null":
                return None
        except (ValueError, yaml.YAMLError):
            return text
        # timestamps, binary and unknown tags stay text, as JSON conversion does.
        return text


class _Guard:
    """Alias expansion and nesting depth of one YAML event stream, checked as events go by.

    Each anchored node's expanded size (nodes, scalar characters) is known when it ends;
    an alias adds that size again. Counting on the event stream, in document order, finds
    the first alias that crosses a limit and its position, without expanding anything.
    """

    def __init__(self, path: str, line_offset: int = 0) -> None:
        from chartgen.limits import current

        limits = current()
        self.path, self.line_offset = path, line_offset
        self.max_nodes, self.max_size = limits.max_yaml_alias_nodes, limits.max_yaml_alias_size
        self.anchors: dict[str, tuple[int, int]] = {}
        self.stack: list[list] = []        # open collections: [nodes, characters, anchor]
        self.nodes = self.size = 0         # added by aliases so far

    def fail(self, event, message: str, code: str) -> ChartgenError:
        mark = event.start_mark
        return ChartgenError(message, path=self.path, line=mark.line + 1 + self.line_offset,
                             column=mark.column + 1, code=code)

    def watch(self, events):
        """Yield `events` unchanged; raise ChartgenError [yaml-aliases] or [yaml-depth]."""
        stack, anchors = self.stack, self.anchors
        for event in events:
            kind = type(event)
            if kind is yaml.ScalarEvent:
                nodes, size, anchor = 1, len(event.value), event.anchor
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                stack.append([1, 0, event.anchor])
                if len(stack) > MAX_DEPTH:
                    raise self.fail(event, f"YAML nested more than {MAX_DEPTH} levels deep; no workflow, "
                                    "schema or spec needs that: flatten the document", "yaml-depth")
                yield event
                continue
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                nodes, size, anchor = stack.pop()
            elif kind is yaml.AliasEvent:
                name, anchor = event.anchor, None
                if any(entry[2] == name for entry in stack):
                    raise self.fail(event, f"alias *{name} refers to a node that contains it (a recursive "
                                    "structure, which JSON and Kubernetes cannot hold); write the data out",
                                    "yaml-aliases")
                nodes, size = anchors.get(name, (1, 0))
                self.nodes += nodes
                self.size += size
                if self.nodes > self.max_nodes or self.size > self.max_size:
                    raise self.fail(event, self._too_much(name), "yaml-aliases")
            else:
                yield event
                continue
            if anchor is not None:
                anchors[anchor] = (nodes, size)
            if stack:
                top = stack[-1]
                top[0] += nodes
                top[1] += size
            yield event

    def _too_much(self, name: str) -> str:
        if self.nodes > self.max_nodes:
            what = f"more than {self.max_nodes:,} nodes (chartgen.yaml limits.maxYamlAliasNodes)"
        else:
            what = f"more than {self.max_size:,} characters (chartgen.yaml limits.maxYamlAliasSize)"
        return (f"YAML aliases expand the document by {what} at alias *{name}: an alias bomb, or data "
                "to write out without anchors and aliases")


def _may_exceed(text: str) -> bool:
    """Cheap: can `text` hold an alias (needs an anchor, `&`) or nest deeper than MAX_DEPTH?
    Every level of nesting needs one of `[{-:?` (flow brackets, block indicators)."""
    if "&" in text:
        return True
    return (text.count("[") + text.count("{") + text.count("-") + text.count(":") + text.count("?")) > MAX_DEPTH


def guarded_events(text: str, path: str, *, line_offset: int = 0):
    """libyaml's event stream of `text`, checked for alias expansion and depth as it goes."""
    events = yaml.parse(text, Loader=yaml.CSafeLoader)
    return _Guard(path, line_offset).watch(events) if _may_exceed(text) else events


def check_yaml(text: str, path: str = "<input>", *, line_offset: int = 0) -> None:
    """Raise ChartgenError [yaml-aliases] or [yaml-depth] (with the alias's or node's
    position) when `text` expands beyond the limits. Syntax errors are left to the parser
    that reads the text next. Use before any other YAML reader (ruamel.yaml, plain PyYAML)."""
    if not _may_exceed(text):
        return
    try:
        for _ in _Guard(path, line_offset).watch(yaml.parse(text, Loader=yaml.CSafeLoader)):
            pass
    except yaml.YAMLError:
        pass


def _syntax_error(path: str, exc: Exception) -> ChartgenError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    return ChartgenError(message, path=path, line=line, column=col, code="yaml-syntax")


def _json_pairs(path: str):
    def hook(pairs):
        result = {}
        for key, value in pairs:
            if key in result:
                raise ChartgenError(f"duplicate key {key!r}", path=path, code="duplicate-key")
            result[key] = value
        return result
    return hook


def looks_like_json(text: str) -> bool:
    stripped = text.lstrip("\ufeff \t\r\n")
    return stripped[:1] in ("{", "[")


def load_document(text: str | bytes, path: str = "<input>") -> Document:
    """Parse JSON (tried first, as upstream does) or YAML. Raises ChartgenError on bad syntax."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ChartgenError(f"not UTF-8 text (byte {exc.start})", path=path, code="encoding") from None
    text = text.lstrip("\ufeff")
    if looks_like_json(text):
        try:
            return _load_json(text, path)
        except ChartgenError as json_error:
            if json_error.code == "duplicate-key" or path.lower().endswith(".json"):
                raise
            try:
                return _load_yaml(text, path)
            except ChartgenError:
                raise json_error from None
    return _load_yaml(text, path)


def _load_json(text: str, path: str) -> Document:
    try:
        data = json.loads(text, object_pairs_hook=_json_pairs(path))
    except ChartgenError as exc:
        # Find the duplicate's line through the YAML composer.
        try:
            walker = _Walker(path)
            walker.value(yaml.compose(text, Loader=yaml.CSafeLoader), ())
            dups = [f for f in walker.findings if f.code == "duplicate-key"]
            if dups:
                raise ChartgenError(findings=dups[:1]) from None
        except (yaml.YAMLError, RecursionError):
            pass
        raise exc
    except json.JSONDecodeError as exc:
        raise ChartgenError(f"JSON syntax error: {exc.msg}", path=path, line=exc.lineno,
                            column=exc.colno, code="json-syntax") from None
    except RecursionError:
        raise ChartgenError("document nested too deeply", path=path, code="json-syntax") from None
    marks: dict = {}
    key_marks: dict = {}
    try:
        walker = _Walker(path)
        walker.value(yaml.compose(text, Loader=yaml.CSafeLoader), ())
        marks, key_marks = walker.marks, walker.key_marks
    except (yaml.YAMLError, ChartgenError, RecursionError):
        pass  # valid JSON that libyaml cannot read (tabs, long keys): no positions
    return Document(path, data, marks, key_marks, (), True)


def _load_yaml(text: str, path: str) -> Document:
    check_yaml(text, path)
    try:
        node = yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.composer.ComposerError as exc:
        raise _syntax_error(path, exc) from None
    except yaml.YAMLError as exc:
        raise _syntax_error(path, exc) from None
    except RecursionError:
        raise ChartgenError("document nested too deeply", path=path, code="yaml-syntax") from None
    if node is None:
        return Document(path, None, {(): (1, 1)}, {}, (), False)
    walker = _Walker(path)
    try:
        data = walker.value(node, ())
    except RecursionError:
        raise ChartgenError("document nested too deeply", path=path, code="yaml-syntax") from None
    return Document(path, data, walker.marks, walker.key_marks, tuple(walker.findings), False)


def load_data(text: str | bytes, path: str = "<input>") -> Any:
    """Parse without keeping positions (fast path for files only read for values).

    The one entry point for reading YAML values anywhere in chartgen (Chart.yaml, index
    files, workflow ids): alias expansion and depth are bounded as in `load_document`."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if looks_like_json(text):
        try:
            return json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            pass
    check_yaml(text, path)
    try:
        return yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        raise _syntax_error(path, exc) from None


class _KubeDumper(yaml.CSafeDumper):
    """Kubernetes-style output: literal blocks for multi-line text."""


# Plain scalars that Go's YAML (go-yaml v2 under sigs.k8s.io/yaml: kubectl, Helm) reads as
# something else than a string, where PyYAML's YAML 1.1 resolver sees a string (`y`, `0o17`, `1e3`).
_GO_YAML_WORDS = {"y", "Y", "n", "N", "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false",
                  "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~", "<<",
                  ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf",
                  "-.INF"}
_GO_YAML_NUMBER = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|[0-9]+(?:\.[0-9]*)?"
                             r"(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?)")


_ODD_BREAKS = re.compile("[\x85\u2028\u2029]")


def _go_yaml_non_string(value: str) -> bool:
    if value in _GO_YAML_WORDS:
        return True
    return value[:1] in "0123456789+-." and bool(_GO_YAML_NUMBER.fullmatch(value.replace("_", "")))


def _represent_str(dumper: yaml.SafeDumper, value: str):
    if _ODD_BREAKS.search(value):
        # YAML line breaks other than \n: only escaped (double quotes) do they survive re-indenting
        # (Helm's nindent) and every reader alike.
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if value and _go_yaml_non_string(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="'")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_KubeDumper.add_representer(str, _represent_str)


def dump_yaml(data: Any, *, sort_keys: bool = True) -> str:
    """Deterministic YAML: same data, same bytes."""
    return yaml.dump(data, Dumper=_KubeDumper, sort_keys=sort_keys, default_flow_style=False,
                     allow_unicode=True, width=1 << 30, indent=2)


def dump_yaml_all(documents: list, *, sort_keys: bool = True) -> str:
    return yaml.dump_all(documents, Dumper=_KubeDumper, sort_keys=sort_keys, default_flow_style=False,
                         allow_unicode=True, width=1 << 30, indent=2, explicit_start=True)


def dump_json(data: Any, *, indent: int | None = 2) -> str:
    return json.dumps(data, indent=indent, sort_keys=True, ensure_ascii=False) + ("\n" if indent else "")
