"""Writing the pages of a repository folder: index.html with catalogue.json, and a page per
chart version (`<name>/<version>/index.html` with its README and values, plus the raw
`values.yaml`) for each archive chartgen adds.

index.html is made from the index *as written*, so that each card's fingerprint is that of
the block the next run reads; the previous catalogue.json (in the folder, or next to the
index merged from) supplies the cards whose block did not change. See
`chartgen.repo.catalogue`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable
from urllib.parse import quote

from chartgen.repo.archive import DOC_FILES, DOC_LIMIT, ArchiveInfo, archive_docs, entry_url
from chartgen.repo.catalogue import DATA_NAME, Card, build_cards, dump_catalogue, read_catalogue
from chartgen.repo.html import PageOptions, render_chart_page, render_page
from chartgen.repo.index import IndexFile

PAGE_NAME = "index.html"
CHART_PAGE = "index.html"
_MAX_DOC = DOC_LIMIT - 1  # README.md / values.yaml shown on a chart page (larger ones are cut)
# Chart names and versions that may become folder names (Helm's own rules are narrower).
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")
_SAFE_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_-]{0,200}")


def docs_folder(folder: Path, name: str, version: str) -> Path | None:
    """`folder/<name>/<version>`, or None when the name or version cannot be a plain folder."""
    if not _SAFE_NAME.fullmatch(name) or not _SAFE_VERSION.fullmatch(version) or ".." in name + version:
        return None
    return Path(folder) / name / version


def docs_link(name: str, version: str) -> str:
    return f"{quote(name)}/{quote(version)}/{CHART_PAGE}"


def _archive_docs(info: ArchiveInfo) -> tuple[str, str]:
    """README.md and values.yaml of an archive (bounded; "" when absent or unreadable)."""
    found = archive_docs(info)   # read_archive already accepted it; a page without README is no reason to fail
    return tuple(_doc_text(found.get(f"{info.name}/{name}")) for name in DOC_FILES)


def _doc_text(data: bytes | None) -> str:
    if not data:
        return ""
    text = data[:_MAX_DOC].decode("utf-8", "replace")
    return text + ("\n[... cut at 1 MiB]\n" if len(data) > _MAX_DOC else "")


def write_chart_pages(folder: Path, archives: Iterable[ArchiveInfo], options: PageOptions) -> list[Path]:
    """The page of each archive's chart version in `folder/<name>/<version>/`: the archives
    a run adds (or replaces on purpose); a page that already holds this content is not
    rewritten. The pages of the other versions are not touched (published versions are
    immutable), so a run's pages are those of writing the whole folder afresh."""
    from chartgen.fsutil import is_inside, sweep_leftovers

    written = []
    for info in archives:
        target = docs_folder(folder, info.name, info.version)
        if target is None:
            continue
        if target.parent.is_symlink() or target.is_symlink():
            continue  # a symlink in the published folder: write nothing through it
        target.mkdir(parents=True, exist_ok=True)
        if not is_inside(target, folder):
            continue
        sweep_leftovers(target)     # a run killed while writing this page
        readme, values = _archive_docs(info)
        url = entry_url(options.base_url, info.file_name)
        page = render_chart_page(info.name, info.version, readme=readme, values=values, metadata=dict(info.metadata),
                                 options=options, archive=info.file_name,
                                 archive_url=url if "://" in url else "../../" + quote(url))
        _write_if_changed(target / "values.yaml", values)
        _write_if_changed(target / CHART_PAGE, page)
        written += [target / "values.yaml", target / CHART_PAGE]
    return written


def write_catalogue(written: IndexFile, folder: Path, options: PageOptions, *,
                    previous: Iterable[Path] = ()) -> list[Path]:
    """index.html and catalogue.json of `written` (the index as just written into
    `folder`), reusing the cards of the first previous catalogue found (the folder's own,
    then `previous`)."""
    folder = Path(folder)
    cards: dict[str, Card] = {}
    for candidate in [folder / DATA_NAME, *previous]:
        cards = read_catalogue(Path(candidate))
        if cards:
            break

    def docs(name: str, version: str) -> str:
        target = docs_folder(folder, name, version)
        return docs_link(name, version) if target is not None and (target / CHART_PAGE).is_file() else ""

    made = build_cards(written, cards, docs=docs)
    for name, text in ((DATA_NAME, dump_catalogue(made, written.generated)),
                       (PAGE_NAME, render_page(made, options, generated=written.generated))):
        _write_if_changed(folder / name, text)
    return [folder / PAGE_NAME, folder / DATA_NAME]


def _write_if_changed(path: Path, text: str) -> None:
    """Replace `path` atomically unless it already holds `text` (a no-op run rewrites nothing)."""
    from chartgen.fsutil import write_atomic

    data = text.encode("utf-8")
    try:
        if path.is_file() and not path.is_symlink() and path.stat().st_size == len(data) and path.read_bytes() == data:
            return
    except OSError:
        pass
    write_atomic(path, data)
