"""The Helm repository: packaging charts, the repository index, and publishing it.

One concept per module:

- `package`: reproducible chart archives (helm-python-sdk);
- `versions`: chart version order, as Helm reads versions;
- `archive`: a chart archive read and checked, and the index entry Helm writes for it;
- `index`: the index model (`IndexFile`) and adding archives to it, never rewriting a
  published version;
- `blocks`: the lazily parsed per-chart blocks of a large index;
- `reading`, `writing`: the index file, JSON or YAML, read and written incrementally;
- `html`: the static index.html;
- `update`: `chartgen index DIR` (archives of a folder into its index);
- `publish`: publish targets, one module per target (`dir`, `git`, `oci`).
"""
