"""The catalogue behind index.html: one card per chart, built without parsing the whole index.

A card holds what the page shows of a chart: its latest version in full (description,
workflow type, supported operator versions, links) and its older versions in brief
(version, appVersion, created, download link). The cards are kept next to the page in
`catalogue.json` (one chart per line), each with a fingerprint of the index block it was
made from (CRC-32 of the block's text). The next run carries a card over when its chart's
block in the new index has the same fingerprint, and makes the card again from that block
otherwise: a publication re-reads only the charts it changed, whatever the size of the
index, and a card never outlives the entries it shows (an index edited by another tool
gets fresh cards for the charts it touched).

Making a card reads only the chart's block. In a YAML index laid out as Helm writes it, line
scans read the fields the card shows of the first version and the four it keeps of the
older ones (anything irregular goes to the parser); a JSON block is parsed, and not kept
parsed: the first run on an index of 100,000 versions makes every card. Every string comes from the
index and is untrusted: the page escapes it, and links are kept only when they are
http(s) URLs or plain relative paths.
"""

from __future__ import annotations

import json
import operator
import re
import zlib
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from chartgen.repo.index import IndexFile

DATA_NAME = "catalogue.json"
DATA_FORMAT = 1
_MAX_DATA = 256 << 20  # a previous catalogue larger than this is ignored (made again)

# Older version in brief: (version, appVersion, created as shown, URL or "" when it is
# the default `<folder of the latest URL><name>-<version>.tgz`).
Brief = tuple[str, str, str, str]


@dataclass(frozen=True)
class Card:
    """What the page shows of one chart. A card read back from catalogue.json keeps its JSON
    text (`raw`, written out again as it is) and leaves `older` unread (empty): the page
    itself shows only `count`, and reading 100,000 older versions back would cost more than
    everything else a publication does."""

    name: str
    version: str
    key: str = ""               # fingerprint of the index block the card was made from
    count: int = 1              # number of versions
    app_version: str = ""
    created: str = ""           # readable: "2026-12-04 05:32 UTC"
    description: str = ""
    workflow_type: str = ""
    operator_versions: str = ""
    deprecated: bool = False
    url: str = ""               # download link of the latest version ("" when unsafe)
    source: str = ""            # link to the source folder ("" when unknown or unsafe)
    docs: str = ""              # relative link to the latest version's README/values page
    older: tuple[Brief, ...] = ()
    raw: str = field(default="", compare=False, repr=False)

    def to_json(self) -> str:
        if self.raw:
            return self.raw
        data = {}
        for item in _FIELDS:
            value = getattr(self, item.name)
            if item.name != "raw" and (value not in ("", (), False) or item.name in ("name", "version", "count")):
                data[item.name] = value
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_data(cls, data: Mapping, raw: str = "") -> "Card":
        """A card from its JSON form (with `raw`, its text: `older` is then only checked to
        be a list); TypeError/ValueError when it is not one."""
        if not isinstance(data, dict):
            raise TypeError("card")
        kwargs = {}
        for item in _FIELDS:
            if item.name not in data or item.name == "raw":
                continue
            value = data[item.name]
            if item.name == "older":
                if raw:
                    if not isinstance(value, list):
                        raise TypeError("older")
                    continue
                value = tuple(_brief(row) for row in value)
            elif item.name == "count":
                if type(value) is not int or value < 1:
                    raise ValueError("count")
            elif item.name == "deprecated":
                value = value is True
            elif not isinstance(value, str):
                raise TypeError(item.name)
            kwargs[item.name] = value
        if not kwargs.get("name") or not kwargs.get("version"):
            raise ValueError("name/version")
        return cls(**kwargs, raw=raw)

    def older_link(self, brief: Brief) -> str:
        """The download link of an older version (its URL, or the default one)."""
        return brief[3] or (default_url(self.url, self.name, brief[0]) if self.url else "")


_FIELDS = fields(Card)


def _brief(row) -> Brief:
    if not isinstance(row, list) or len(row) != 4 or not all(isinstance(item, str) for item in row):
        raise TypeError("older")
    return (row[0], row[1], row[2], row[3])


def default_url(latest_url: str, name: str, version: str) -> str:
    return latest_url[:latest_url.rfind("/") + 1] + f"{name}-{version}.tgz"


# ---------------------------------------------------------------------------------------
# Values as shown

_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d)(?::\d\d(?:\.\d+)?)?([Zz]|[+-]\d\d:?\d\d)?$")


_UTC_TIMES = re.compile(r"(?:[0-9]{4}-[0-9][0-9]-[0-9][0-9][Tt ][0-9][0-9]:[0-9][0-9](?::[0-9][0-9](?:\.[0-9]+)?)?[Zz]?\n)*")


def readable_times(values: list[str]) -> list[str]:
    """`readable_time` of each text; when all are UTC times without surrounding space (the
    usual case), checked in one pass and cut to date and minute."""
    joined = "\n".join(values) + "\n"
    if joined.count("\n") == len(values) and _UTC_TIMES.fullmatch(joined):   # (no value holds a line break)
        return [f"{value[:10]} {value[11:16]} UTC" for value in values]
    return [readable_time(value) for value in values]


def readable_time(value) -> str:
    """`2026-12-04T05:32:10.123456789Z` -> `2026-12-04 05:32 UTC` (other zones converted);
    text that is not a time is shown as it is."""
    if isinstance(value, datetime):
        value = value.isoformat()
    text = str(value or "").strip()
    match = _RFC3339.match(text)
    if not match:
        return text[:64]
    zone = match.group(3)
    if zone and zone not in "Zz":
        try:
            offset = zone if ":" in zone else zone[:3] + ":" + zone[3:]
            moment = datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}{offset}")
        except ValueError:
            return text[:64]
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"{match.group(1)} {match.group(2)} UTC"


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")  # browsers drop tabs/newlines inside URLs: "java\nscript:"


def safe_link(url) -> str:
    """`url` when a browser may follow it from the page: http(s), or a relative path
    (no scheme such as `javascript:`, no `//host`); "" otherwise."""
    text = str(url or "").strip()
    if not text or _CONTROL.search(text):
        return ""
    if _SCHEME.match(text):
        return text if text.lower().startswith(("https://", "http://")) else ""
    return "" if text.startswith("//") else text


def _text(value, limit: int = 4096) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value)[:limit]


def _annotation(annotations, suffix: str) -> str:
    """The annotation whose key ends with `/suffix` (chartgen.io/..., or an older prefix)."""
    if not isinstance(annotations, dict):
        return ""
    for key in sorted(annotations):
        if str(key).endswith("/" + suffix):
            return _text(annotations[key], 256)
    return ""


def source_link(annotations) -> str:
    """The workflow's folder in its source repository, when the repository is an http(s) URL."""
    repository = safe_link(_annotation(annotations, "source-repository"))
    if not repository.startswith(("https://", "http://")):
        return ""
    path = _annotation(annotations, "source-path").strip("/")
    commit = _annotation(annotations, "source-commit")
    base = repository[:-4] if repository.endswith(".git") else repository.rstrip("/")
    if not path:
        return base
    return f"{base}/tree/{commit if re.fullmatch(r'[0-9A-Za-z._/-]{1,200}', commit) else 'HEAD'}/{path}"


def first_url(entry: Mapping) -> str:
    urls = entry.get("urls")
    return _text(urls[0], 2048) if isinstance(urls, list) and urls else ""


def make_card(name: str, latest: Mapping, older: Iterable[tuple[str, str, str, str]], *, key: str = "",
              docs: str = "") -> Card:
    """The card of a chart from its newest entry and its older versions as
    (version, appVersion, created, URL) in index order."""
    annotations = latest.get("annotations")
    url = safe_link(first_url(latest))
    prefix = url[:url.rfind("/") + 1]
    older = list(older)
    versions, app_versions, created, links = (_cut(list(column), limit) for column, limit in
                                              zip(zip(*older), (256, 256, 64, 2048))) if older else ([],) * 4
    defaults = [f"{prefix}{name}-{version}.tgz" for version in versions] if url else [None] * len(links)
    if links != defaults:   # a link that is the default is not stored
        links = ["" if link == default else safe_link(link) for link, default in zip(links, defaults)]
    else:
        links = [""] * len(links)
    briefs = list(zip(versions, app_versions, readable_times(created), links))
    return Card(name=name, version=_text(latest.get("version"), 256), key=key, count=1 + len(briefs),
                app_version=_text(latest.get("appVersion"), 256), created=readable_time(latest.get("created")),
                description=_text(latest.get("description")), workflow_type=_annotation(annotations, "workflow-type"),
                operator_versions=_annotation(annotations, "operator-versions"),
                deprecated=latest.get("deprecated") is True, url=url, source=source_link(annotations),
                docs=docs, older=tuple(briefs))


def _cut(values: list[str], limit: int) -> list[str]:
    """The texts cut to `limit` characters, as `_brief_of` cuts them (the line scans do not)."""
    return [value[:limit] for value in values] if max(map(len, values), default=0) > limit else values


def _brief_of(entry: Mapping) -> tuple[str, str, str, str]:
    return (_text(entry.get("version"), 256), _text(entry.get("appVersion"), 256), _text(entry.get("created"), 64),
            first_url(entry))


_FOUR = operator.itemgetter("version", "appVersion", "created", "urls")


def _briefs_of(entries: Sequence[Mapping]) -> list[tuple[str, str, str, str]]:
    """`_brief_of` of each entry; the usual ones (four short strings, a list of URLs) are
    taken column by column."""
    try:
        versions, app_versions, created, urls = zip(*map(_FOUR, entries)) if entries else ((),) * 4
        first = list(map(operator.itemgetter(0), urls))
    except (KeyError, IndexError, TypeError):
        return [_brief_of(entry) for entry in entries]
    types = set(map(type, versions)) | set(map(type, app_versions)) | set(map(type, created)) | set(map(type, first))
    if (types <= {str} and set(map(type, urls)) <= {list} and max(map(len, versions + app_versions), default=0) <= 256
            and max(map(len, created), default=0) <= 64 and max(map(len, first), default=0) <= 2048):
        return list(zip(versions, app_versions, created, first))
    return [_brief_of(entry) for entry in entries]

# ---------------------------------------------------------------------------------------
# The older versions of a YAML block, without the parser

# Helm's layout: each version starts with "\n  - ", its keys are at four spaces (the first
# one on the dash line). Only four keys are needed: version, appVersion, created, urls.
_ENTRY = "\n  - "
# One pass over the block finds the starts of the versions (with the key on the dash line, if
# it is one of the four) and the four keys further down (with the line after each).
_KEYS = "(version|appVersion|created|urls):([^\n]*)(?=(\n[^\n]*|))"
_SCAN = re.compile(rf"\n  - (?:{_KEYS})?|\n    {_KEYS}")
_PLAIN_START = re.compile(r"[^\s'\"\[\]{}&*!|>%@`#,?:-]|[-?:][^\s]")
# Scalars read as they are written (most of an index): a plain word of these characters, or
# double quotes around text without escapes. The rest goes through the checks below.
_PLAIN_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:+=~@%-]*")
_SIMPLE_QUOTED = re.compile('"([^"\\\\\r\t\x85\u2028\u2029\ufeff]*)"')


_ODD_CHAR = re.compile("[\r\t\x85\u2028\u2029\ufeff]")


def _scalar(raw: str) -> str | None:
    """A one-line YAML scalar as text; None when it is not a simple one (then parse)."""
    text = raw.strip(" ")
    if _PLAIN_WORD.fullmatch(text):
        return text
    quoted = _SIMPLE_QUOTED.fullmatch(text)
    if quoted:
        return quoted.group(1)
    if not text:
        return ""
    if _ODD_CHAR.search(text):
        return None  # line breaks to YAML 1.1 readers, or tabs: let the parser decide
    if text[0] == "'":
        return text[1:-1].replace("''", "'") if len(text) > 1 and text[-1] == "'" and "'" not in text[1:-1].replace("''", "") else None
    if text[0] == '"':
        if len(text) < 2 or text[-1] != '"' or '"' in text[1:-1].replace('\\"', ""):
            return None
        if "\\" not in text:
            return text[1:-1]
        try:
            return json.loads(text)
        except ValueError:
            return None
    if not _PLAIN_START.match(text) or " #" in text or ": " in text:
        return None
    return text


# A whole version as `helm repo index` writes it (keys sorted, so the four come in this
# order, none on the dash line, urls as a list): matched at once, the four values captured
# (a plain word, or the text in simple double quotes), for the block's every version.
# Anything else is read line by line (`_scan_lines`), which gives the same for these.
_OTHER_KEY = r"(?!(?:version|appVersion|created|urls):)"
_OTHER_LINES = rf"(?:\n    {_OTHER_KEY}[^\n]*)*"
_VALUE = r' *(?:([A-Za-z0-9][A-Za-z0-9._/:+=~@%-]*)|"([^"\\\n\r\t\x85\u2028\u2029\ufeff]{0})")? *(?![^\n])(?!\n     )'
_HELM_VERSION = re.compile(rf"\n  - {_OTHER_KEY}[^\n]*{_OTHER_LINES}"
                 rf"(?:\n    appVersion:{_VALUE.format('*')}{_OTHER_LINES})?"
                 rf"(?:\n    created:{_VALUE.format('*')}{_OTHER_LINES})?"
                 rf"\n    urls:\n    - {_VALUE.format('*')}{_OTHER_LINES}"
                 rf"\n    version:{_VALUE.format('+')}{_OTHER_LINES}")


def scan_yaml_versions(block: str) -> list[tuple[str, str, str, str]] | None:
    """(version, appVersion, created, first URL) of each version of a chart's YAML block as
    Helm lays it out, in order; None when anything is irregular (the caller parses)."""
    position = block.find(_ENTRY)
    found = []
    for match in _HELM_VERSION.finditer(block, position):
        if match.start() != position:
            break
        found.append(match.groups(""))
        position = match.end()
    else:
        if found and block[position:] in ("", "\n") and all(v or vq for *_, v, vq in found):
            return [(v or vq, a or aq, c or cq, u or uq) for a, aq, c, cq, u, uq, v, vq in found]
    return _scan_lines(block)


def _scan_lines(block: str) -> list[tuple[str, str, str, str]] | None:
    versions: list[dict[str, str]] = []
    found: dict[str, str] | None = None   # the keys of the version being read
    for first, first_raw, first_next, key, raw, following in _SCAN.findall(block):
        if not key:                       # "\n  - ": a version starts
            found = {}
            versions.append(found)
            if not first:
                continue
            key, raw, following = first, first_raw, first_next
        elif found is None:
            continue                      # above the first version
        if key in found:
            return None
        if key == "urls":
            if raw.strip() or not following.startswith("\n    - "):
                return None
            value = _scalar(following[7:])
        else:
            if following[:6] == "\n     ":  # a continuation line: folded text
                return None
            value = _scalar(raw)
        if value is None:
            return None
        found[key] = value
    if not all(found.get("version") for found in versions):
        return None
    return [(found["version"], found.get("appVersion", ""), found.get("created", ""), found.get("urls", ""))
            for found in versions]


# The newest version of a YAML block, without the parser

# What a card shows of the newest version, read from its lines when they are as Helm writes
# them: the keys at four spaces, those the card shows holding simple one-line scalars that
# the YAML parser reads as text (`deprecated` also as a boolean), annotations a mapping of
# them at six spaces, urls a list of them. The other keys are passed over, when nothing in
# them can reach past their own lines (no quotes, flow collections, block scalars, tags).
# Anything else: None, and the parser reads the version.
_HEAD_SCALARS = ("name", "version", "appVersion", "created", "description", "deprecated")
_TOP_KEY = re.compile(r"([A-Za-z][A-Za-z0-9]*):(?: |$)")
_SAFE_PLAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._/+=~@%,()-]| +(?=[^ #])|:(?=[^ ]))*")
_SAFE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
_SAFE_SINGLE = re.compile(r"'((?:[^']|'')*)'")
_SAFE_DOUBLE = re.compile(r'"([^"\\]*)"')
_REACHES_ON = re.compile(r"['\"\[\]{}|>!&*]")
# line breaks to YAML 1.1 besides \n, tabs, a BOM, and what YAML readers refuse
_ODD_TEXT = re.compile("[\r\t\x85\u2028\u2029\ufeff]|[^\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_BOOLS = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}
_NOT_READ = object()


def _implicit_tag(text: str) -> str | None:
    """The tag the YAML parser gives a plain scalar (None: text)."""
    import yaml

    resolvers = yaml.CSafeLoader.yaml_implicit_resolvers
    for tag, pattern in resolvers.get(text[:1], []) + resolvers.get(None, []):
        if pattern.match(text):
            return tag
    return None


def _simple_value(text: str, *, boolean: bool = False, key: bool = False):
    """The value the YAML parser gives a one-line scalar (surrounding spaces cut): text, or
    with `boolean` True/False; `_NOT_READ` when it is not that simple."""
    quoted = _SAFE_DOUBLE.fullmatch(text)
    if quoted:
        return quoted.group(1)
    quoted = _SAFE_SINGLE.fullmatch(text)
    if quoted:
        return quoted.group(1).replace("''", "'")
    if not (_SAFE_KEY if key else _SAFE_PLAIN).fullmatch(text):
        return _NOT_READ
    tag = _implicit_tag(text)
    if tag is None:
        return text
    return _BOOLS[text.lower()] if boolean and tag == "tag:yaml.org,2002:bool" else _NOT_READ


_PASSED_TAGS = (None, "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                "tag:yaml.org,2002:null")


def _passable(value: str) -> bool:
    """Whether the text of a key passed over is a one-line scalar the parser reads without
    fail (times are not: a wrong date fails)."""
    if not value or _simple_value(value) is not _NOT_READ:
        return True
    return (_scalar(value) is not None and not value.endswith(":") and not _REACHES_ON.search(value)
            and _implicit_tag(value) in _PASSED_TAGS)


def scan_yaml_head(block: str) -> dict | None:
    """The newest version of a chart's YAML block as far as its card needs it (see above)."""
    start = block.find(_ENTRY)
    if start < 0:
        return None
    end = block.find(_ENTRY, start + 1)
    entry = block[start + len(_ENTRY):end if end > 0 else len(block)].rstrip("\n")
    lines = entry.split("\n    ")
    if entry.count("\n") != len(lines) - 1 or _ODD_TEXT.search(entry):
        return None                           # a line at less than four spaces, or odd text
    head: dict = {}
    key, value, rest = None, "", []
    for line in lines:
        top = _TOP_KEY.match(line)
        if top is None:
            if key is None or line[:1] not in (" ", "-"):
                return None                   # neither a key nor a line of the key above
            rest.append(line)
            continue
        if key is not None and not _head_value(head, key, value, rest):
            return None
        key, value, rest = top.group(1), line[top.end():].strip(" "), []
    if key is None or not _head_value(head, key, value, rest):
        return None
    if not head.get("name") or not head.get("version"):
        return None
    return head


def _head_value(head: dict, key: str, value: str, rest: list[str]) -> bool:
    """Note the value of `key` (its line's text after `key:`, and the lines below it) in
    `head` when the card shows it; False when it is not as simple as that."""
    if key in _HEAD_SCALARS:
        read = _simple_value(value, boolean=key == "deprecated") if value and not rest else _NOT_READ
        if read is _NOT_READ:
            return False
        head[key] = read
    elif key == "annotations":
        if value or not rest:
            return False
        annotations = {}
        for line in rest:
            name, colon, text = line[2:].partition(": ")
            if line[:2] != "  " or not colon:
                return False
            name, text = _simple_value(name, key=True), _simple_value(text.strip(" "))
            if name is _NOT_READ or text is _NOT_READ:
                return False
            annotations[name] = text
        head[key] = annotations
    elif key == "urls":
        urls = [_simple_value(line[2:].strip(" ")) if line[:2] == "- " else _NOT_READ for line in rest]
        if value or not urls or _NOT_READ in urls:
            return False
        head[key] = urls
    else:   # passed over
        return _passable(value) and not any(_REACHES_ON.search(line) for line in rest)
    return True


# ---------------------------------------------------------------------------------------
# Cards of an index, carried over or made again

def fingerprint(text: str, span: tuple[int, int]) -> str:
    """CRC-32 of a chart's block (trailing space and comma left out: they depend on the
    block's place in the file)."""
    block = text[span[0]:span[1]].rstrip().rstrip(",")
    return f"{zlib.crc32(block.encode('utf-8', 'surrogatepass')):08x}"


def build_cards(index: IndexFile, previous: Mapping[str, Card] | None = None, *,
                docs: Callable[[str, str], str] | None = None) -> list[Card]:
    """One card per chart of `index`, in name order. `index` is the index as written (so
    that its blocks are what the next run reads); cards of `previous` whose fingerprint
    still matches are reused. `docs(name, version)` gives the docs link of a version."""
    previous = previous or {}
    text, spans = index._source_text, index._spans
    cards = []
    for name in sorted(index.entries):
        key = fingerprint(text, spans[name]) if name in spans else ""
        old = previous.get(name)
        if key and old is not None and old.key == key:
            cards.append(old)
            continue
        card = _card_from_index(index, name, key)
        if card is None:
            continue
        if docs is not None:
            link = docs(name, card.version)
            if link:
                card = replace(card, docs=link)
        cards.append(card)
    return cards


def _card_from_index(index: IndexFile, name: str, key: str) -> Card | None:
    if index.source_format == "yaml" and name in index._spans:
        start, end = index._spans[name]
        block = index._source_text[start:end]
        newest = scan_yaml_head(block)
        head = (newest,) if newest is not None else index.head(name, 1)
        if not head:
            return None
        older = scan_yaml_versions(block)
        if older is None or (older[:1] and older[0][0] != str(head[0].get("version"))):
            older = _briefs_of(index.versions_once(name))  # the scan declined, or disagrees: trust the parser
    else:
        versions = index.versions_once(name)
        if not versions:
            return None
        head, older = versions[:1], _briefs_of(versions)
    return make_card(name, head[0], older[1:], key=key)

# ---------------------------------------------------------------------------------------
# catalogue.json

def dump_catalogue(cards: Iterable[Card], generated: str = "") -> str:
    """The cards as JSON, one chart per line (the page loads it for older versions)."""
    head = json.dumps({"format": DATA_FORMAT, "generated": generated}, ensure_ascii=False)[:-1] + ',"charts":{'
    rows = [json.dumps(card.name, ensure_ascii=False) + ":" + card.to_json() for card in cards]
    return "\n".join([head, ",\n".join(rows), "}}"]) + "\n"


def read_catalogue(path: Path) -> dict[str, Card]:
    """The cards of a previous catalogue.json as `dump_catalogue` lays it out; {} when it
    is missing, too large, or not one (then every card is made again: the file is a
    cache, never trusted for more). Each line is checked to be a whole card."""
    from chartgen.errors import ChartgenError
    from chartgen.limits import read_file

    try:
        lines = read_file(path, limit=_MAX_DATA).decode("utf-8").split("\n")
        head = json.loads(lines[0] + "}}")
        if not isinstance(head, dict) or head.get("format") != DATA_FORMAT or head.get("charts") != {}:
            return {}
        if lines[-2:] != ["}}", ""]:
            return {}
        cards: dict[str, Card] = {}
        body = lines[1:-2]
        for number, line in enumerate(body):
            member = line[:-1] if number < len(body) - 1 else line
            if number < len(body) - 1 and not line.endswith(","):
                return {}
            data = json.loads("{" + member + "}")
            if not isinstance(data, dict) or len(data) != 1:
                return {}
            ((name, item),) = data.items()
            prefix = json.dumps(name, ensure_ascii=False) + ":"
            if not member.startswith(prefix) or name in cards:
                return {}
            card = Card.from_data(item, raw=member[len(prefix):])
            if card.name != name:
                return {}
            cards[name] = card
        return cards
    except (ChartgenError, ValueError, TypeError, RecursionError, UnicodeDecodeError):
        return {}
