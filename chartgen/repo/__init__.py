"""The Helm repository: packaging charts, the repository index, and publishing it.

One concept per module:

- `package`: reproducible chart archives, written from the chart folder (`helmignore`: the
  files Helm leaves out);
- `versions`: chart version order, as Helm reads versions;
- `archive`: a chart archive read and checked, and the index entry Helm writes for it;
- `index`: the index model (`IndexFile`) and adding archives to it, never rewriting a
  published version;
- `blocks`: the lazily parsed per-chart blocks of a large index;
- `reading`, `writing`: the index file, JSON or YAML, read and written incrementally;
- `catalogue`: the cards behind index.html (one per chart), carried over while a chart's
  block of the index is unchanged;
- `html`: rendering index.html and the page of a chart version;
- `pages`: writing them (index.html, catalogue.json, `<chart>/<version>/`);
- `update`: `chartgen index DIR` (archives of a folder into its index);
- `publish`: publish targets, one module per target (`dir`, `git`, `oci`).
"""
