"""Pull requests against the chart repository (`chartgen pr`, `chartgen build --pr`).

`open_pull_requests(folders, config, config_repo=..., ...)` is the library entry point; see
`chartgen.gitops.engine` (the flow) and the modules it names. git goes through
`chartgen.gitops.git`, forges through `chartgen.gitops.forges.<name>`.
"""

from __future__ import annotations


def open_pull_requests(*args, **kwargs):
    from chartgen.gitops.engine import open_pull_requests as _open

    return _open(*args, **kwargs)


_EXPORTS = {"PrResult": "model", "PrError": "model", "ChartChange": "model", "Removal": "model",
            "prunes_in_build": "prune"}


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"chartgen.gitops.{_EXPORTS[name]}"), name)
    raise AttributeError(name)
