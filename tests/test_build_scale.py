"""Building many workflows (issue 13): the umbrella's schema stays small and still checks
values, lint results are kept by content, a split build (plan --shards, build --shard,
build --assemble) gives what one machine's build gives."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from synthetic import make_repository  # noqa: E402


def _chartgen(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "chartgen", *args], cwd=root, capture_output=True, text=True,
                          env=env)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A synthetic repository of 6 workflows, built once (`build --all`)."""
    root = tmp_path_factory.mktemp("scale") / "repo"
    make_repository(root, 6)
    proc = _chartgen(root, "build", "--all")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def _rows(chart: Path, count: int):
    from chartgen.chart.versioning import read_chart_yaml

    meta = read_chart_yaml(chart)
    return [SimpleNamespace(name=f"flow-{i:04d}", path=str(chart), version=meta["version"],
                            workflow_id=f"flow-{i:04d}", workflow_type="infrastructure") for i in range(count)]


def test_umbrella_schema_shares_definitions_and_stays_small(built, tmp_path):
    import jsonschema

    from chartgen.chart.umbrella import umbrella_schema

    charts = built / "charts"
    chart = charts / "mta-0003"
    small = json.dumps(umbrella_schema(charts, _rows(chart, 10)))
    large = umbrella_schema(charts, _rows(chart, 2000))
    text = json.dumps(large)
    assert len(text) < 300_000                       # a copy per workflow would be ~16 MB
    assert len(text) - len(small) < 2000 * 100       # what a workflow adds: its key and a $ref
    assert large["properties"]["flow-0001"] == large["properties"]["flow-1999"]
    validator = jsonschema.Draft7Validator(large)
    jsonschema.Draft7Validator.check_schema(large)
    assert validator.is_valid({"flow-0001": {"enabled": True, "image": {"tag": "v2"}}, "global": {"x": 1}})
    assert not validator.is_valid({"flow-0001": {"imag": {"tag": "v2"}}})        # misspelt, though disabled
    assert not validator.is_valid({"flow-0001": {"enabled": "maybe"}})
    assert not validator.is_valid({"flow-9999": {"enabled": True}})               # no such workflow
    assert not validator.is_valid({"flow-0001": {"image": {"tag": 1}}})


def test_umbrella_schema_is_the_same_from_its_memo(built, tmp_path):
    """The parts kept by schema bytes (one changed workflow costs one) give the same schema,
    byte for byte, as computing every part."""
    from chartgen.chart.lintcache import LintCache
    from chartgen.chart.umbrella import umbrella_schema
    from chartgen.yamlio import dump_json

    charts = built / "charts"
    rows = [row for chart in sorted(charts.iterdir()) if (chart / "values.schema.json").is_file()
            for row in _rows(chart, 1)]
    rows = [SimpleNamespace(**{**vars(row), "name": f"{row.name}-{i}"}) for i, row in enumerate(rows)]
    plain = dump_json(umbrella_schema(charts, rows))
    memo = LintCache(tmp_path / "memo", "salt")
    assert dump_json(umbrella_schema(charts, rows, memo)) == plain        # filling the memo
    assert len(list((tmp_path / "memo").glob("*.json"))) == len({(Path(r.path) / "values.schema.json").read_bytes()
                                                            for r in rows}) + 1    # and the whole
    assert dump_json(umbrella_schema(charts, rows, memo)) == plain        # reading it
    looked: list[str] = []
    real = memo.get
    memo.get = lambda key: looked.append(key) or real(key)
    assert dump_json(umbrella_schema(charts, rows, memo)) == plain and len(looked) == 1   # the whole
    fewer = rows[1:]                      # another set of workflows: from the parts
    assert dump_json(umbrella_schema(charts, fewer, memo)) == dump_json(umbrella_schema(charts, fewer))


def test_helm_checks_values_against_the_shared_schema(built):
    import helm_python

    from chart_helpers import helm_objects

    umbrella = built / "charts" / "workflows"
    schema = json.loads((umbrella / "values.schema.json").read_text())
    assert schema["definitions"] and all("$ref" in schema["properties"][name]
                                         for name in schema["properties"] if name != "global")
    objects = helm_objects(umbrella, helm_python.parse_set_string("mta-0003.enabled=true,mta-0003.image.tag=v9"))
    assert any(o["kind"] == "SonataFlow" for o in objects)
    for wrong in ("mta-0003.enabled=true,mta-0003.image.tag=1", "mta-0003.imag.tag=v1", "mta-0099.enabled=true",
                  "greeting-0001.enabled=maybe"):
        with pytest.raises(helm_python.HelmError):
            helm_objects(umbrella, helm_python.parse_set_string(wrong))


def test_umbrella_values_far_from_helm_limits(built):
    from chartgen.chart.umbrella import umbrella_values

    rows = _rows(built / "charts" / "mta-0003", 2000)
    assert len(umbrella_values(rows).encode()) < 1024 * 1024       # Helm: 5 MiB a file


def test_lint_results_are_kept_by_content(built, tmp_path, monkeypatch):
    from chartgen.chart import lint_charts, lintcache
    from chartgen.config import load_config

    copy = tmp_path / "repo"
    shutil.copytree(built, copy, symlinks=True)
    monkeypatch.chdir(copy)
    config = load_config(copy / "chartgen.yaml")
    cache = lintcache.LintCache(tmp_path / "lint", "salt")
    charts = [copy / "charts" / "mta-0003", copy / "charts" / "workflows"]
    values = charts[0] / "values.yaml"
    values.write_text(values.read_text() + "extra:   1\n")              # a yamllint warning and a schema error
    first = lintcache.lint_charts_cached(charts, config, cache)
    assert first == lint_charts(charts, config, since=None, ci_values=False)
    assert any(f.code == "yamllint" for f in first) and any(f.code == "helm-lint" for f in first)

    def no_helm(*args, **kwargs):
        raise AssertionError("linted again")

    monkeypatch.setattr(lintcache, "run_helm_lint", no_helm)
    monkeypatch.setattr(lintcache, "_helm_checks", no_helm)
    assert lintcache.lint_charts_cached(charts, config, cache) == first
    values.write_text(values.read_text().replace("extra:   1\n", ""))
    with pytest.raises(AssertionError, match="linted again"):
        lintcache.lint_charts_cached(charts[:1], config, cache)


def _digests(dist: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(dist.glob("*.tgz"))}


def _index_entries(dist: Path) -> dict:
    import yaml

    index = yaml.safe_load((dist / "index.yaml").read_text())
    return {name: [{k: v for k, v in entry.items() if k != "created"} for entry in entries]
            for name, entries in index["entries"].items()}


def split_build(root: Path, tmp: Path, shards: int) -> Path:
    """`root` built in `shards` shards on copies, then assembled in a fresh copy."""
    proc = _chartgen(root, "plan", "--all", "--format", "github-matrix", "--shards", str(shards))
    assert proc.returncode == 0, proc.stderr
    matrix = json.loads(proc.stdout)["include"]
    assert len(matrix) == shards
    assembly = tmp / "assembly"
    shutil.copytree(root, assembly, ignore=shutil.ignore_patterns("charts", "dist", ".chartgen"))
    for number, entry in enumerate(matrix):
        shard = tmp / f"shard-{number}"
        shutil.copytree(assembly, shard)
        proc = _chartgen(shard, "build", "--shard", *entry["folders"].split())
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "[umbrella]" not in proc.stdout and not (shard / "dist" / "index.yaml").exists()
        for name in ("charts", "dist"):            # the CI artifacts, gathered
            shutil.copytree(shard / name, assembly / name, dirs_exist_ok=True)
    proc = _chartgen(assembly, "build", "--assemble")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return assembly


def _same_build(one: Path, split: Path) -> None:
    assert _digests(split / "dist") == _digests(one / "dist")
    assert _index_entries(split / "dist") == _index_entries(one / "dist")
    proc = subprocess.run(["diff", "-r", "-q", "-x", ".chartgen", str(one / "charts"), str(split / "charts")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_split_build_equals_one_machine(tmp_path):
    one = tmp_path / "one"
    make_repository(one, 7)
    split = split_build(one, tmp_path, 3)
    proc = _chartgen(one, "build", "--all")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _same_build(one, split)


def test_assemble_refuses_workflow_names(built):
    proc = _chartgen(built, "build", "--assemble", "mta-0003")
    assert proc.returncode == 2 and "--assemble takes no workflow names" in proc.stderr
    proc = _chartgen(built, "build", "--assemble", "--shard")
    assert proc.returncode == 2


@pytest.mark.slow
def test_split_build_of_many_workflows_equals_one_machine(tmp_path):
    """3 shards; 300 workflows by default, 1,000 in CI (`.ci/run` sets
    CHARTGEN_SCALE_WORKFLOWS=1000: ~5 min on 2 cores)."""
    count = int(os.environ.get("CHARTGEN_SCALE_WORKFLOWS", "300"))
    one = tmp_path / "one"
    make_repository(one, count)
    split = split_build(one, tmp_path, 3)
    proc = _chartgen(one, "build", "--all")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    _same_build(one, split)


def test_failed_umbrella_is_replayed_until_something_changes(tmp_path):
    root = tmp_path / "repo"
    make_repository(root, 2)
    assert _chartgen(root, "build", "--all").returncode == 0
    values = root / "charts" / "workflows" / "values.yaml"
    values.write_text(values.read_text() + "# edited by hand\n")
    first = _chartgen(root, "build", "--all", "--format", "json")
    assert first.returncode == 1 and "chart-hand-edit" in first.stdout
    cache = json.loads((root / ".chartgen" / "cache.json").read_text())
    assert cache["repository"]["umbrella"]["result"]["status"] == "failed"
    again = _chartgen(root, "build", "--all", "--format", "json")
    assert again.returncode == 1 and json.loads(again.stdout) == json.loads(first.stdout)
    fixed = _chartgen(root, "build", "--all", "--discard-edits")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
