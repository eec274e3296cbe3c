"""The pages of a Helm repository: index.html (the catalogue) and one page per chart version.

Rendering only (pure, deterministic); `chartgen.repo.pages` writes the files. index.html
lists every chart's latest version statically (readable without JavaScript) and loads the
older versions from catalogue.json when asked; a script filters the list (name and text,
workflow type, supported operator version). Every string comes from the index or an
archive and is escaped by Jinja2's autoescape; the little JSON placed in a <script> is
escaped for that place too (`script_json`).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from shlex import quote
from typing import Sequence

from chartgen.repo.catalogue import DATA_NAME, Card, readable_time


@dataclass(frozen=True)
class PageOptions:
    """How the pages present the repository."""

    title: str = "Helm charts"
    base_url: str = ""   # the repository's URL; "": the page's own folder (the browser fills it in)
    alias: str = ""      # the `helm repo add` name; "": from the URL
    oci: str = ""        # oci://REGISTRY/PATH when the charts are installed from an OCI registry


@functools.lru_cache(maxsize=16)   # asked once per chart by the page
def repo_alias(options: PageOptions) -> str:
    """The `helm repo add` name: the setting, else the URL's last path segment (or the
    first label of its host), else `charts`."""
    if options.alias:
        return options.alias
    url = (options.base_url or options.oci).rstrip("/")
    tail = url.split("://", 1)[-1]
    host, _, path = tail.partition("/")
    word = path.rsplit("/", 1)[-1] if path else host.split(".", 1)[0].split(":", 1)[0]
    alias = re.sub(r"[^a-z0-9-]+", "-", word.lower()).strip("-")
    return alias or "charts"


def script_json(value) -> str:
    """JSON safe inside an HTML <script> element: no `<`, `>`, `&` (so no `</script>` or
    `<!--`), and no U+2028/U+2029 or other non-ASCII characters."""
    text = json.dumps(value, ensure_ascii=True, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _environment():
    import jinja2

    from chartgen.fsutil import template_cache

    env = jinja2.Environment(loader=jinja2.PackageLoader("chartgen", "templates"), autoescape=True,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             bytecode_cache=template_cache())
    env.filters["script_json"] = script_json
    return env


_ENV = None


def environment():
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    return _ENV


def install_lines(options: PageOptions, name: str, version: str) -> list[str]:
    """The commands that install `name` at `version` from this repository. Every word from
    the index is shell-quoted when it needs it: people paste these lines into a shell."""
    lines = []
    if options.oci:
        lines.append(f"helm install {quote(name)} {quote(options.oci.rstrip('/') + '/' + name)} --version {quote(version)}")
    if options.base_url or not options.oci:
        lines.append(f"helm install {quote(name)} {quote(repo_alias(options) + '/' + name)} --version {quote(version)}")
    return lines


def render_page(cards: Sequence[Card], options: PageOptions = PageOptions(), *, generated: str = "") -> str:
    """index.html: the catalogue of `cards` (one per chart, in name order)."""
    types = sorted({card.workflow_type for card in cards if card.workflow_type})
    total = sum(card.count for card in cards)
    return environment().get_template("index.html.j2").render(
        title=options.title, cards=cards, options=options, alias=repo_alias(options), types=types,
        has_operator=any(card.operator_versions for card in cards), total=total,
        generated=readable_time(generated) if generated else "", data_name=DATA_NAME,
        install_lines=install_lines, shell_quote=quote,
        config=script_json({"alias": repo_alias(options), "url": options.base_url, "oci": options.oci,
                            "data": DATA_NAME}))


def render_markdown(text: str):
    """A README as HTML: CommonMark with tables, raw HTML shown as text, links only where
    markdown-it allows them (no javascript:, vbscript:, file:, data:), and images as links
    to them (the page fetches nothing from elsewhere)."""
    from markdown_it import MarkdownIt
    from markdown_it.common.utils import escapeHtml
    from markupsafe import Markup

    def image(renderer, tokens, index, options, env):
        token = tokens[index]
        alt = escapeHtml(token.content or "image")
        return f'<a href="{escapeHtml(token.attrGet("src") or "")}" rel="nofollow noopener">{alt}</a>'

    from chartgen.repo.mdtable import plain_table

    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    parser.block.ruler.before("table", "plain_table", plain_table)   # the same HTML, faster
    parser.add_render_rule("image", image)
    return Markup(parser.render(text))


def render_chart_page(name: str, version: str, *, readme: str, values: str, metadata: dict,
                      options: PageOptions = PageOptions(), archive: str = "", archive_url: str = "") -> str:
    """The page of one chart version: its README (rendered) and default values."""
    return environment().get_template("chart.html.j2").render(
        title=options.title, name=name, version=version, readme=render_markdown(readme) if readme else "",
        values=values,
        description=str(metadata.get("description") or ""), app_version=str(metadata.get("appVersion") or ""),
        install=install_lines(options, name, version), alias=repo_alias(options), options=options,
        archive=archive, archive_url=archive_url)


def render_html(index, *, title: str = "Helm charts", base_url: str | None = None, alias: str = "",
                oci: str = "") -> str:
    """index.html of an index (every card made afresh; `chartgen.repo.pages` reuses cards)."""
    from chartgen.repo.catalogue import build_cards

    return render_page(build_cards(index), PageOptions(title, base_url or "", alias, oci),
                       generated=index.generated)

