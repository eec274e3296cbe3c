"""`chartgen build`: every stage for each workflow, in parallel, skipped by content hash.

One concept per module:

- `options`: what a run is asked to do (`BuildOptions`) and what it reports (`BuildReport`);
- `stages`: the stage table (`STAGES`), each stage an adapter over one library module;
- `runner`: `build()`, running the stages per workflow in worker processes or threads;
- `cache`: `.chartgen/cache.json` and the content hashes it is keyed on;
- `stamps`: output stamps, whether a folder chartgen wrote is still as it left it;
- `ids`: workflow ids of the whole repository (cross-workflow validation);
- `output`: text, JSON, Markdown summary, CI outputs and Tekton results of a report;
- `progress`: live progress on a terminal.

The library entry point: `from chartgen.build.runner import build`.
"""
