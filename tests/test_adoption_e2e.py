"""Adopting a real-shaped workflows repository and its chart repository, as a new user would:
`chartgen init`, `chartgen adopt --config-repo URL`, then `chartgen build --all --pr --publish`
against the GitHub stand-in (API and git over smart HTTP) authenticated as a GitHub App.
Every chart keeps its published name and folder, no version goes down, the chart-releaser
index keeps every entry, and a second run changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.adoption_helpers import (MAIN_CHARTS, PUBLISHED, SOURCE_REPOSITORY, chart_releaser_index,
                                    chart_repository, source_repository)
from tests.conftest import GITHUB_OPENAPI, need, need_shared

pytestmark = pytest.mark.slow

APP_ID = 4242


def _semver(version: str):
    import semver

    return semver.Version.parse(version)


@pytest.fixture
def world(tmp_path):
    need_shared(GITHUB_OPENAPI)
    from github_standin import GitHubStandin
    from github_standin.apps import rsa_key
    from github_standin.server import HTTP_BACKEND

    need(Path(HTTP_BACKEND).exists(), f"{HTTP_BACKEND} is absent (Debian package git)")
    bare = chart_repository(tmp_path)
    src = source_repository(tmp_path)
    private, public = rsa_key()
    hub = GitHubStandin(tmp_path / "srv", GITHUB_OPENAPI, None).start()   # no token: the app only
    try:
        url = hub.add_repo("acme", "serverless-workflows-config", bare)
        hub.apps.install(hub.apps.add(public, app_id=APP_ID), "acme/serverless-workflows-config")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GITHUB_", "GH_", "CHARTGEN_", "CI"))}
        env.update(CHARTGEN_GITHUB_APP_ID=str(APP_ID), CHARTGEN_GITHUB_APP_PRIVATE_KEY=private,
                   GITHUB_API_URL=hub.api_url)

        def chartgen(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "chartgen", *args], cwd=src, env=env,
                                  capture_output=True, text=True, timeout=600)

        yield hub, bare, src, url, chartgen
    finally:
        hub.stop()
    assert hub.violations == [], "requests GitHub would reject"


def _branches(bare: Path) -> dict[str, str]:
    out = subprocess.run(["git", "--git-dir", str(bare), "for-each-ref", "--format=%(refname:short) %(objectname)",
                          "refs/heads"], capture_output=True, text=True, check=True).stdout
    return dict(line.split() for line in out.splitlines())


def _show(bare: Path, ref: str, path: str) -> str:
    return subprocess.run(["git", "--git-dir", str(bare), "show", f"{ref}:{path}"], capture_output=True,
                          text=True, check=True).stdout


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts and "dist" not in p.relative_to(root).parts
            and ".chartgen" != p.relative_to(root).parts[0]}


def test_init_adopt_build_pr_publish_keeps_names_and_versions(world):
    hub, bare, src, url, chartgen = world

    init = chartgen("init")
    assert init.returncode == 0, init.stderr
    assert "found 4 workflow folders in workflows/ (escalation, greeting, move2kube, mta-v7.x), shared files in " \
           "workflows/shared/" in init.stdout
    assert (src / ".github/workflows/chartgen-main.yaml").is_file()
    assert "/dist/" in (src / ".gitignore").read_text() and "/.chartgen/" in (src / ".gitignore").read_text()

    adopt = chartgen("adopt", "--config-repo", url)
    assert adopt.returncode == 0, adopt.stderr
    lines = adopt.stdout.splitlines()
    assert f"published index git:{url}#gh-pages:docs" in lines
    assert any(line.startswith("mta-v7.x") and "-> chart mta-v7 in charts/mta-v7.x, above 1.4.0-rc2 "
               "(SonataFlow mta in charts/mta-v7.x/templates/04-sonataflow_mta.yaml)" in line for line in lines), lines
    assert any(line.startswith("escalation") and "new chart escalation, nothing published" in line for line in lines)
    assert "not taken over (no workflow folder deploys them): mta (mta 1.2.0-rc1)" in lines
    settings = yaml.safe_load((src / "chartgen.yaml").read_text())
    assert settings["workflows"] == {"mta-v7.x": {"chart": "mta-v7", "folder": "mta-v7.x"}}
    assert settings["versionFloors"] == {"greeting": "1.4.0-rc0", "mta-v7": "1.4.0-rc2", "move2kube": "1.4.0-rc1",
                                         "workflows": "0.2.26"}
    assert settings["pr"] == {"configRepo": url}
    assert settings["publish"] == {"target": f"git:{url}#gh-pages:docs"}
    assert settings["repository"] == SOURCE_REPOSITORY
    assert "# The folder with one folder per workflow" in (src / "chartgen.yaml").read_text()  # comments kept

    target = settings["publish"]["target"]
    first = chartgen("build", "--all", "--pr", "--publish", target)
    assert first.returncode == 0, first.stdout + first.stderr
    built = {line.split()[0]: line for line in first.stdout.splitlines()}
    assert "(chart mta-v7 1.4.1-rc.1," in built["mta-v7.x"]
    assert "(chart greeting 1.4.1-rc.1," in built["greeting"]
    assert "(chart move2kube 1.4.1-rc.1," in built["move2kube"]
    assert "(chart escalation 0.1.0-rc.1," in built["escalation"]
    assert "workflows 0.2.27-rc.1" in built["[umbrella]"]
    assert "5 added" in built["[publish]"]

    # Local charts keep the chart repository's names and folders.
    chart = yaml.safe_load((src / "charts/mta-v7.x/Chart.yaml").read_text())
    assert (chart["name"], chart["version"]) == ("mta-v7", "1.4.1-rc.1")
    assert not (src / "charts/mta-v7-x").exists()

    # Pull requests: one per workflow, the chart in its old folder under its old name.
    pulls = hub.repos["acme/serverless-workflows-config"].pulls
    assert sorted(p["head"]["ref"] for p in pulls.values()) == [
        "chartgen/escalation", "chartgen/greeting", "chartgen/move2kube", "chartgen/mta-v7.x"]
    proposed = yaml.safe_load(_show(bare, "chartgen/mta-v7.x", "charts/mta-v7.x/Chart.yaml"))
    assert (proposed["name"], proposed["version"]) == ("mta-v7", "1.4.1-rc.1")
    paths = subprocess.run(["git", "--git-dir", str(bare), "ls-tree", "-r", "--name-only", "chartgen/mta-v7.x"],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    assert "charts/mta-v7.x/templates/07-sonataflow_mta.yaml" in paths
    assert "charts/mta-v7.x/templates/04-sonataflow_mta.yaml" not in paths     # the old chart is replaced whole
    assert "charts/mta/Chart.yaml" in paths                                    # another workflow's: left alone
    assert not [p for p in paths if "mta-v7-x" in p]

    # The published index: every chart-releaser entry kept (duplicates too), the new versions
    # on top, each above everything published before under that name.
    index = yaml.safe_load(_show(bare, "gh-pages", "docs/index.yaml"))
    old = yaml.safe_load(chart_releaser_index())
    for name, entries in old["entries"].items():
        kept = [e for e in index["entries"][name] if e["version"] in PUBLISHED[name] and "created" in e]
        assert sorted(e["digest"] for e in kept) == sorted(e["digest"] for e in entries), name
    new = {name: [e["version"] for e in entries if e["version"] not in PUBLISHED.get(name, [])]
           for name, entries in index["entries"].items()}
    assert new == {"greeting": ["1.4.1-rc.1"], "mta-v7": ["1.4.1-rc.1"], "move2kube": ["1.4.1-rc.1"],
                   "escalation": ["0.1.0-rc.1"], "workflows": ["0.2.27-rc.1"], "mta": [], "mta-v6.x": []}
    for name, versions in new.items():
        for version in versions:
            assert all(_semver(version) > _semver(v) for v in PUBLISHED.get(name, [])), (name, version)
    assert "mta-v7-x" not in index["entries"]
    # The gh-pages push went through as the GitHub App (no token anywhere in the environment).
    assert hub.git_auth and all(user == "x-access-token" for _ok, user in hub.git_auth if _ok)

    # A second run: nothing changes anywhere.
    branches, files = _branches(bare), _files(src)
    second = chartgen("build", "--all", "--pr", "--publish", target)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "0 added, 5 already there" in second.stdout
    assert "[pr]        ok      unchanged" in second.stdout
    assert _branches(bare) == branches
    assert _files(src) == files
    assert len(pulls) == 4
    again = chartgen("adopt")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "chartgen.yaml: already up to date"
    assert _files(src) == files
    for folder, (name, version, _flow) in MAIN_CHARTS.items():       # main itself is never pushed to
        assert yaml.safe_load(_show(bare, "main", f"charts/{folder}/Chart.yaml"))["version"] == version
