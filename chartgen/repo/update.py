"""`chartgen index DIR`: index the archives of a folder into its index.yaml (and index.html)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from chartgen.errors import UsageError
from chartgen.fsutil import sweep_leftovers
from chartgen.repo.archive import read_archive
from chartgen.repo.catalogue import DATA_NAME
from chartgen.repo.index import INDEX_NAME, add_archives, empty_index, is_known_archive, now_rfc3339
from chartgen.repo.reading import load_index
from chartgen.repo.writing import resolve_format, write_repository_files
from chartgen.settings import PublishSettings


@dataclass(frozen=True)
class IndexResult:
    path: Path
    added: tuple[tuple[str, str], ...]
    unchanged: tuple[tuple[str, str], ...]
    replaced: tuple[tuple[str, str], ...]
    total: int
    format: str
    html: Path | None = None
    known: int = 0  # archives skipped because already indexed with the same digest
    duplicates: tuple[tuple[str, str, int], ...] = ()


def index_settings(settings: PublishSettings, *, fmt: str | None = None, html: bool | None = None) -> dict:
    """How the index is written, from chartgen.yaml `publish:` (`config.publish`) with
    command-line values on top: the keyword arguments of `update_index` (fmt, html, title,
    alias, and oci: the OCI repository the page's install lines name when `publish.target`
    is one). One place for every caller."""
    return {"fmt": fmt or settings.index_format,
            "html": settings.html if html is None else html,
            "title": settings.title,
            "alias": settings.alias,
            "oci": settings.target if settings.target.startswith("oci://") else ""}
def update_index(dist_dir: Path, base_url: str, *, merge: Path | None = None, force: bool = False,
                 fmt: str = "auto", html: bool = True, title: str = "Helm charts", alias: str = "",
                 oci: str = "", now: str | None = None) -> IndexResult:
    """Index the `*.tgz` archives of `dist_dir` into `dist_dir/index.yaml`.

    The existing index is `merge` if given, else `dist_dir/index.yaml` if present.
    Archives already indexed under their file name with the same digest are not
    opened; only new archives are read. Existing entries keep `created`.
    """
    dist_dir = Path(dist_dir)
    if not dist_dir.is_dir():
        raise UsageError(f"{dist_dir} is not a directory", path=dist_dir, code="usage")
    sweep_leftovers(dist_dir)   # temporary files of killed runs
    source = Path(merge) if merge else dist_dir / INDEX_NAME
    if merge and not source.is_file():
        raise UsageError(f"index to merge {source} does not exist", path=source, code="usage")
    index = load_index(source) if source.is_file() else empty_index()
    archives = sorted(p for p in dist_dir.glob("*.tgz") if p.is_file())
    fresh = [read_archive(p) for p in archives if not is_known_archive(index, p)]
    known = len(archives) - len(fresh)
    addition = add_archives(index, fresh, base_url, force=force, now=now, where=str(source))
    changed = bool(addition.added or addition.replaced)
    result = addition.index if changed else index  # nothing new: keep `generated` (a no-op)
    if not result.generated:   # a new index without archives: Helm refuses one without the time
        result = replace(result, generated=now or now_rfc3339())
    target = dist_dir / INDEX_NAME
    same_file = source.resolve() == target.resolve()
    presentation = {"title": title, "base_url": base_url, "alias": alias, "oci": oci}
    # A folder without archives still gets the (empty) index it is told it has.
    if changed or not same_file or not target.is_file() or resolve_format(index, fmt) != (index.source_format or "json"):
        write_repository_files(result, dist_dir, fmt=fmt, html=html, archives=fresh,
                               previous=[source.parent / DATA_NAME], **presentation)
    elif html:  # the index is as it was; the page follows it (carried over, rewritten only if it differs)
        from chartgen.repo.html import PageOptions
        from chartgen.repo.pages import write_catalogue

        write_catalogue(result, dist_dir, PageOptions(title, base_url or "", alias, oci))
    page = dist_dir / "index.html" if html else None
    return IndexResult(target, addition.added, addition.unchanged, addition.replaced, len(result),
                       resolve_format(result, fmt), page, known, addition.duplicates)
