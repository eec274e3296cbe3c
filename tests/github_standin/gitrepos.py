"""Bare chart repositories on disk, workflow folders, and a deterministic fake chart generator."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ENV = {**os.environ, "GIT_AUTHOR_NAME": "Maintainer", "GIT_AUTHOR_EMAIL": "m@example.com",
       "GIT_COMMITTER_NAME": "Maintainer", "GIT_COMMITTER_EMAIL": "m@example.com", "LC_ALL": "C"}


def git(*args, cwd=None, check=True) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=ENV, capture_output=True, text=True)
    if check and proc.returncode:
        raise AssertionError(f"git {' '.join(args)}: {proc.stderr}")
    return proc.stdout.strip()


def make_chart_repo(root: Path, files: dict[str, str] | None = None, branch: str = "main") -> Path:
    """A bare repository whose `branch` holds `files` (default: a README and an empty charts/)."""
    bare = root / "charts-repo.git"
    work = root / "seed"
    git("init", "-q", "--bare", "-b", branch, str(bare))
    git("init", "-q", "-b", branch, str(work))
    for rel, text in (files or {"README.md": "# workflow charts\n", "charts/.keep": ""}).items():
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "initial", cwd=work)
    git("push", "-q", str(bare), f"HEAD:refs/heads/{branch}", cwd=work)
    shutil.rmtree(work)
    return bare


def tree(bare: Path, ref: str) -> dict[str, bytes]:
    """path -> content of every file at `ref` (one ls-tree, one cat-file --batch)."""
    entries = [line.split("\t", 1) for line in
               git("--git-dir", str(bare), "ls-tree", "-r", "--full-tree", ref).splitlines()]
    shas = [meta.split()[2] for meta, _name in entries]
    out = subprocess.run(["git", "--git-dir", str(bare), "cat-file", "--batch"], input="\n".join(shas).encode() + b"\n",
                         capture_output=True, check=True).stdout
    files, pos = {}, 0
    for _meta, name in entries:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        files[name] = out[header_end + 1:header_end + 1 + size]
        pos = header_end + 1 + size + 1
    return files


def log(bare: Path, ref: str) -> list[str]:
    """'author <email>|committer <email>|full message' per commit on `ref`."""
    out = git("--git-dir", str(bare), "log", "--format=%an <%ae>|%cn <%ce>|%B%x00", ref)
    return [c.strip() for c in out.split("\x00") if c.strip()]


def rev(bare: Path, ref: str) -> str | None:
    return git("--git-dir", str(bare), "rev-parse", "--verify", "-q", ref, check=False) or None


def write_workflow(sources: Path, name: str, specs: dict[str, str] | None = None, description: str = "d") -> Path:
    folder = sources / name
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "specs").mkdir(parents=True)
    (folder / f"{name}.sw.yaml").write_text(
        f"id: {name}\nversion: '1.0'\nspecVersion: '0.8'\nname: {name}\ndescription: {description}\n"
        "start: hello\nstates:\n- name: hello\n  type: inject\n  data: {}\n  end: true\n")
    for spec_name, text in (specs or {"api.yaml": "openapi: 3.0.0\n"}).items():
        (folder / "specs" / spec_name).write_text(text)
    return folder


@dataclass(frozen=True)
class FakeChart:
    name: str
    version: str
    path: Path
    changed: bool
    previous_version: str | None


def fake_generator(folder, config, *, out_dir, source_commit=None, image_digest=None, image_tag=None):
    """Writes <out_dir>/<name>/ (one template per workflow file, so a deleted spec disappears),
    bumps the patch version when the content changes, regenerates <out_dir>/workflows/."""
    out_dir = Path(out_dir)
    target = out_dir / folder.name
    files = {f"templates/{f.rel.replace('/', '_')}.txt": f.content.decode() for f in folder.files()}
    files["values.yaml"] = f"image:\n  tag: {image_tag or 'latest'}\n  digest: {image_digest or ''}\n"
    digest = hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest()[:16]
    previous = None
    if (target / "Chart.yaml").is_file():
        lines = dict(l.split(": ", 1) for l in (target / "Chart.yaml").read_text().splitlines() if ": " in l)
        previous = lines.get("version")
        same = lines.get("digest") == digest
    else:
        same = False
    if previous and same:
        version = previous
    elif previous:
        major, minor, patch = previous.split(".")
        version = f"{major}.{minor}.{int(patch) + 1}"
    else:
        version = "0.1.0"
    if target.exists():
        shutil.rmtree(target)
    for rel, text in files.items():
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_text(text)
    (target / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: {folder.name}\nversion: {version}\ndigest: {digest}\n"
        "annotations:\n  chartgen.io/workflow-type: infrastructure\n  chartgen.io/operator-versions: '>=1.35 <1.37'\n")
    umbrella = out_dir / "workflows"
    deps = sorted(p.name for p in out_dir.iterdir() if (p / "Chart.yaml").is_file() and p.name != "workflows")
    nested = umbrella / "charts"
    if nested.exists():
        shutil.rmtree(nested)
    nested.mkdir(parents=True)
    for dep in deps:
        shutil.copytree(out_dir / dep, nested / dep)
    (umbrella / "Chart.yaml").write_text("apiVersion: v2\nname: workflows\nversion: 1.0.0\ndependencies:\n" + "".join(
        f"- name: {d}\n  condition: {d}.enabled\n" for d in deps))
    return FakeChart(folder.name, version, target, not same, previous)


def race_pushes(monkeypatch, tmp_path: Path, bare: Path, times: int) -> dict:
    """Make another pusher move the branch (straight in the bare repository) right before
    each of chartgen's first `times` pushes. Returns a counter of chartgen's pushes."""
    from chartgen.gitops.git import Git

    real_push = Git.push
    calls = {"n": 0}

    def racing_push(self, remote_name, branch, expected):
        calls["n"] += 1
        if calls["n"] <= times:
            other = tmp_path / f"other{calls['n']}"
            git("clone", "-q", str(bare), str(other))
            git("checkout", "-q", "-B", branch, "origin/main", cwd=other)
            (other / "charts").mkdir(exist_ok=True)
            (other / "charts" / f"other{calls['n']}.txt").write_text("someone else\n")
            git("add", "-A", cwd=other)
            git("commit", "-q", "-m", "someone else", cwd=other)
            git("push", "-q", "-f", "origin", f"HEAD:refs/heads/{branch}", cwd=other)
        return real_push(self, remote_name, branch, expected)

    monkeypatch.setattr(Git, "push", racing_push)
    return calls
