"""Pull requests against the chart repository (`chartgen pr`, `chartgen build --pr`).

`open_pull_requests(folders, config, config_repo=..., ...)` is the library entry point; see
`chartgen.gitops.engine`. git goes through `chartgen.gitops.git`, forges through
`chartgen.gitops.forges.<name>`.
"""

from __future__ import annotations


def open_pull_requests(*args, **kwargs):
    from chartgen.gitops.engine import open_pull_requests as _open

    return _open(*args, **kwargs)


def __getattr__(name):
    if name in ("PrResult", "PrError", "ChartChange", "Removal", "prunes_in_build"):
        from chartgen.gitops import engine

        return getattr(engine, name)
    raise AttributeError(name)
