"""Publish to a git branch (the gh-pages pattern), safe against concurrent publishers.

Each attempt: fetch the branch tip into a private temporary repository (depth 1, partial
clone, sparse checkout of the index and the new archives only), add the
archives, merge them into *that* index (their entries win nothing away: an existing
version with the same digest is kept as is, a different digest is refused), commit,
and push without force. When the push is rejected because someone else published
meanwhile, fetch again and redo the merge on top of their index; attempts are bounded
and spaced with random jitter. A push never overwrites a commit we have not merged,
so any number of concurrent publishers lose nothing.

Credentials: a token in CHARTGEN_GIT_TOKEN (user CHARTGEN_GIT_USERNAME, default
`x-access-token`) is sent for http(s) remotes as an `Authorization` header through
git's environment configuration (GIT_CONFIG_COUNT/KEY/VALUE): it is never part of a
URL, a command line, or .git/config, and git's output is redacted before it is shown.
"""

from __future__ import annotations

import base64
import random
import subprocess
import time
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from chartgen.errors import ChartgenError, UsageError, redact, register_secret
from chartgen.fsutil import temp_directory
from chartgen.repo.publish import PublishOptions, PublishResult, Target, update_folder

TOKEN_ENV = "CHARTGEN_GIT_TOKEN"
USERNAME_ENV = "CHARTGEN_GIT_USERNAME"
# Messages of a push that lost a race (retry) as opposed to a refusal (fail).
_RACE_MARKERS = ("fetch first", "non-fast-forward", "stale info", "cannot lock ref", "failed to lock",
                 "incorrect old value", "failed to update ref", "reference already exists")


class _PushRejected(Exception):
    pass


def git_environment(remote: str, environ: Mapping[str, str], credentials=None) -> dict[str, str]:
    """Environment for git commands: no prompts, a fixed identity, credentials as an
    http.extraHeader scoped to the remote's origin (never in argv or config files).
    `credentials` (`token()` and `username`, e.g. a GitHub App's installation token for the
    chart repository) take the place of CHARTGEN_GIT_TOKEN."""
    if _has_userinfo(remote):
        raise UsageError("the git remote contains credentials; give the token in "
                         f"{TOKEN_ENV} instead of the URL", code="publish-credentials")
    env = {key: value for key, value in environ.items()
           if not key.startswith("GIT_CONFIG_") and key not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true", SSH_ASKPASS="true", LC_ALL="C")
    env.setdefault("GIT_AUTHOR_NAME", "chartgen")
    env.setdefault("GIT_AUTHOR_EMAIL", "chartgen@localhost")
    env.setdefault("GIT_COMMITTER_NAME", env["GIT_AUTHOR_NAME"])
    env.setdefault("GIT_COMMITTER_EMAIL", env["GIT_AUTHOR_EMAIL"])
    config = [("core.hooksPath", "/dev/null"), ("commit.gpgSign", "false"), ("init.defaultBranch", "main")]
    parts = urlsplit(remote)
    token = environ.get(TOKEN_ENV)
    username = environ.get(USERNAME_ENV) or "x-access-token"
    if credentials is not None and parts.scheme in ("http", "https"):
        token, username = credentials.token(), credentials.username
    if token and parts.scheme in ("http", "https"):
        basic = base64.b64encode(f"{username}:{token}".encode()).decode()
        register_secret(token)
        register_secret(basic)
        origin = f"{parts.scheme}://{parts.netloc}/"
        config.append((f"http.{origin}.extraHeader", f"Authorization: Basic {basic}"))
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for i, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def _has_userinfo(remote: str) -> bool:
    parts = urlsplit(remote)
    return bool(parts.scheme and parts.netloc and "@" in parts.netloc and parts.scheme in ("http", "https", "ftp", "ftps"))


def _git(work: Path, env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["git", "-C", str(work), *args], env=env, capture_output=True, text=True,
                            timeout=600)
    if check and result.returncode != 0:
        raise ChartgenError(f"git {args[0]} failed: {redact(result.stderr.strip() or result.stdout.strip())}",
                            code="publish-git")
    return result


def _prepare_clone(work: Path, env: dict, remote: str, patterns: list[str]) -> None:
    """An empty repository that fetches only what publishing needs: the branch tip
    (depth 1) without file contents (partial clone), and a sparse checkout of just the
    index files and the archives being added. A gh-pages branch holding thousands of
    archives is not downloaded on every publish. Servers without partial-clone support
    send everything, which works the same. The remote URL holds no credentials."""
    subprocess.run(["git", "init", "--quiet", str(work)], env=env, check=True, capture_output=True)
    _git(work, env, "remote", "add", "origin", remote)
    _git(work, env, "config", "remote.origin.promisor", "true")
    _git(work, env, "config", "remote.origin.partialclonefilter", "blob:none")
    _git(work, env, "sparse-checkout", "set", "--no-cone", *patterns)


def _fetch(work: Path, env: dict, remote: str, branch: str) -> bool:
    """Fetch the branch tip into refs/remotes/origin/BRANCH; False when there is no such branch yet."""
    listing = _git(work, env, "ls-remote", "--heads", "origin", f"refs/heads/{branch}", check=False)
    if listing.returncode != 0:
        raise ChartgenError(f"cannot reach git remote {redact(remote)}: {redact(listing.stderr.strip())}",
                            code="publish-git-remote")
    if not listing.stdout.strip():
        return False
    fetched = _git(work, env, "fetch", "--quiet", "--no-tags", "--depth=1", "--filter=blob:none", "origin",
                   f"+refs/heads/{branch}:refs/remotes/origin/{branch}", check=False)
    if fetched.returncode != 0:
        # the branch was deleted or rewritten between ls-remote and fetch: retry later
        raise _PushRejected(redact(fetched.stderr.strip()))
    return True


def _classify_push(result: subprocess.CompletedProcess) -> None:
    if result.returncode == 0:
        return
    text = (result.stderr + "\n" + result.stdout).lower()
    if any(marker in text for marker in _RACE_MARKERS) and "hook declined" not in text:
        raise _PushRejected(redact(result.stderr.strip()))
    raise ChartgenError(f"the git remote refused the push: {redact(result.stderr.strip())}",
                        code="publish-git-rejected")


def read_index_file(target: Target, environ: Mapping[str, str], credentials=None) -> bytes | None:
    """The index.yaml of a git target (its branch and folder), fetched the way publishing
    fetches it (that one file only); None when the branch or the index does not exist yet."""
    env = git_environment(target.location, environ, credentials)
    prefix = "/" + target.folder + "/" if target.folder else "/"
    with temp_directory("chartgen-published-") as tmp:
        work = Path(tmp) / "repo"
        _prepare_clone(work, env, target.location, [prefix + "index.yaml"])
        try:
            if not _fetch(work, env, target.location, target.branch):
                return None
        except _PushRejected as exc:
            raise ChartgenError(f"cannot fetch {redact(target.location)}#{target.branch}: {exc}",
                                code="publish-git-remote") from None
        _git(work, env, "checkout", "--quiet", "--force", f"refs/remotes/origin/{target.branch}")
        index = work / target.folder / "index.yaml" if target.folder else work / "index.yaml"
        return index.read_bytes() if index.is_file() else None


def publish(archives, target: Target, options: PublishOptions) -> PublishResult:
    remote, branch = target.location, target.branch
    env = git_environment(remote, options.environ, options.credentials)
    names = ", ".join(f"{a.name}-{a.version}" for a in archives)
    message = options.message or f"Publish {names}"
    with temp_directory("chartgen-publish-") as tmp:
        work = Path(tmp) / "repo"
        prefix = "/" + target.folder + "/" if target.folder else "/"
        patterns = [prefix + "index.yaml", prefix + "index.html", prefix + "catalogue.json"] + [
            pattern for a in archives for pattern in (prefix + a.file_name, f"{prefix}{a.name}/{a.version}/")]
        patterns += [prefix + a.file_name + ".prov" for a in archives]        # provenance, when signed
        _prepare_clone(work, env, remote, patterns)
        last_error = ""
        for attempt in range(1, max(1, options.max_attempts) + 1):
            try:
                exists = _fetch(work, env, remote, branch)
                if exists:
                    _git(work, env, "checkout", "--quiet", "--force", "-B", branch, f"refs/remotes/origin/{branch}")
                else:
                    _git(work, env, "update-ref", "-d", f"refs/heads/{branch}", check=False)
                    _git(work, env, "checkout", "--quiet", "--orphan", branch)
                    _git(work, env, "rm", "-r", "-f", "--quiet", "--ignore-unmatch", ".")
                _git(work, env, "clean", "-f", "-d", "-x", "--quiet")
                folder = work / target.folder if target.folder else work
                addition = update_folder(folder, archives, options,
                                         where=f"{redact(remote)}#{branch}:{target.folder + '/' if target.folder else ''}index.yaml")
                _git(work, env, "add", "--all")
                if _git(work, env, "diff", "--cached", "--quiet", check=False).returncode == 0:
                    head = _git(work, env, "rev-parse", "HEAD", check=False).stdout.strip()
                    return PublishResult(str(target), addition.added, addition.unchanged, addition.replaced,
                                         attempt, head, addition.duplicates)
                _git(work, env, "commit", "--quiet", "--no-verify", "-m", message)
                pushed = _git(work, env, "push", "--porcelain", "origin", f"HEAD:refs/heads/{branch}", check=False)
                _classify_push(pushed)
                head = _git(work, env, "rev-parse", "HEAD").stdout.strip()
                return PublishResult(str(target), addition.added, addition.unchanged, addition.replaced,
                                     attempt, head, addition.duplicates)
            except _PushRejected as exc:
                last_error = str(exc)
                time.sleep(random.uniform(0.05, 0.2) * min(2 ** attempt, 16))
        raise ChartgenError(f"could not publish to {redact(remote)}#{branch} after {options.max_attempts} "
                            f"attempts: others kept publishing meanwhile ({last_error})",
                            code="publish-git-contention")
