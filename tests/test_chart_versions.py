"""Chart versions: kept when the content is unchanged, bumped by policy, never down."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import need_tool
from test_chart_generate import make_config, project, tree  # noqa: F401  (project: a fixture)


@pytest.mark.parametrize("previous, policy, expected", [
    ("0.1.0-rc.1", "prerelease", "0.1.0-rc.2"),
    ("1.3.0-rc.9", "prerelease", "1.3.0-rc.10"),
    ("1.3.0", "prerelease", "1.3.1-rc.1"),
    ("1.3.0-rc9", "prerelease", "1.3.1-rc.1"),       # the old scheme: rc.10 would sort below rc9
    ("1.4.0-alpha", "prerelease", "1.4.1-rc.1"),
    ("1.2.3", "patch", "1.2.4"),
    ("1.2.3-rc.2", "patch", "1.2.3"),
    ("1.2.3", "minor", "1.3.0"),
    ("1.2.3-rc.2", "minor", "1.3.0"),
])
def test_next_version(previous, policy, expected):
    from chartgen.chart.versioning import greater, next_version

    assert next_version(previous, policy) == expected
    assert greater(expected, previous)


def test_rc10_sorts_after_rc9():
    from chartgen.chart.versioning import greater

    assert greater("1.3.0-rc.10", "1.3.0-rc.9")
    assert not greater("1.3.0-rc10", "1.3.0-rc9")   # why the old rcN scheme broke the index order


@pytest.mark.parametrize("version, part, prerelease, expected", [
    ("1.2.3-rc.4", "patch", False, "1.2.4"),
    ("1.2.3-rc.4", "minor", False, "1.3.0"),
    ("1.2.3-rc.4", "major", False, "2.0.0"),
    ("1.2.3", "minor", True, "1.3.0-rc.1"),
    ("1.2.3-rc.4", "release", False, "1.2.3"),
    ("1.2.3-rc.4", "prerelease", False, "1.2.3-rc.5"),
    ("1.2.3", "prerelease", False, "1.2.4-rc.1"),
])
def test_explicit_bumps(version, part, prerelease, expected):
    from chartgen.chart.versioning import bump

    assert bump(version, part, prerelease=prerelease) == expected


def test_release_of_a_release_is_a_usage_error():
    from chartgen.chart.versioning import bump
    from chartgen.errors import UsageError

    with pytest.raises(UsageError):
        bump("1.2.3", "release")


@given(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30), st.integers(1, 200),
       st.sampled_from(["prerelease", "patch", "minor"]), st.booleans())
def test_versions_never_go_down(major, minor, patch, number, policy, pre):
    from chartgen.chart.versioning import greater, next_version

    version = f"{major}.{minor}.{patch}" + (f"-rc.{number}" if pre else "")
    assert greater(next_version(version, policy), version)


def test_unchanged_content_keeps_version_and_bytes(project):  # noqa: F811
    from chartgen.chart import generate_chart

    folder = project / "workflows" / "braces-flow"
    config = make_config(project)
    first = generate_chart(folder, config, source_commit="aaaa1111")
    before = tree(project / "charts")
    again = generate_chart(folder, config, source_commit="bbbb2222")  # a new commit, same content
    assert (again.version, again.changed, again.previous_version) == (first.version, False, first.version)
    assert tree(project / "charts") == before   # not even the commit annotation moves


def test_changed_content_bumps_by_policy(project):  # noqa: F811
    from chartgen.chart import generate_chart
    from chartgen.chart.versioning import read_chart_yaml

    folder = project / "workflows" / "braces-flow"
    config = make_config(project, "chart:\n  version_policy: patch\n  initial_version: 1.4.0\n")
    assert generate_chart(folder, config).version == "1.4.0"
    with (folder / "application.properties").open("a") as handle:
        handle.write("\nextra=1\n")
    result = generate_chart(folder, config, source_commit="cccc3333")
    assert (result.version, result.changed, result.previous_version) == ("1.4.1", True, "1.4.0")
    meta = read_chart_yaml(project / "charts" / "braces-flow")
    assert meta["annotations"]["chartgen.io/source-commit"] == "cccc3333"
    umbrella = read_chart_yaml(project / "charts" / "workflows")
    assert umbrella["dependencies"][0]["version"] == "1.4.1"


def test_new_image_tag_is_new_content(project):  # noqa: F811
    from chartgen.chart import generate_chart

    folder = project / "workflows" / "braces-flow"
    config = make_config(project)
    generate_chart(folder, config, image_tag="aaa")
    assert generate_chart(folder, config, image_tag="aaa").changed is False
    assert generate_chart(folder, config, image_tag="bbb").version == "0.1.0-rc.2"


def test_explicit_bump_is_kept_by_regeneration(project):  # noqa: F811
    from chartgen.chart import bump_version, generate_chart

    folder = project / "workflows" / "braces-flow"
    config = make_config(project)
    generate_chart(folder, config)
    chart = project / "charts" / "braces-flow"
    assert bump_version(chart, "minor", config=config) == "0.2.0"
    readme = (chart / "README.md").read_text()
    assert "![Version: 0.2.0](https://img.shields.io/badge/Version-0.2.0-" in readme
    assert "| 0.2.0 | 1.2 |" in readme and "0.1.0-rc.1" not in readme
    again = generate_chart(folder, config)
    assert (again.version, again.changed) == ("0.2.0", False)


def test_version_continues_from_git_head_when_the_folder_is_gone(project):  # noqa: F811
    from chartgen.chart import generate_chart
    from chartgen.chart.versioning import bump_version

    need_tool("git")
    folder = project / "workflows" / "braces-flow"
    config = make_config(project)
    generate_chart(folder, config)
    bump_version(project / "charts" / "braces-flow", "major", config=config)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "HOME": str(project), "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "charts"]):
        subprocess.run(["git", *args], cwd=project, check=True, env=env)
    shutil.rmtree(project / "charts" / "braces-flow")
    result = generate_chart(folder, config)
    assert (result.version, result.previous_version, result.changed) == ("1.0.0", "1.0.0", False)
    with (folder / "application.properties").open("a") as handle:
        handle.write("\nmore=2\n")
    shutil.rmtree(project / "charts" / "braces-flow")
    assert generate_chart(folder, config).version == "1.0.1-rc.1"
