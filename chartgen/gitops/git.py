"""A small git wrapper over subprocess, careful with credentials.

A token reaches git only through a credential helper given in the environment of the one
command that talks to the remote (`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`, git >= 2.31): the
helper is a shell snippet that prints the token from an environment variable, set from
`credentials.token()` when that command starts (so a GitHub App's installation token is the
current one at every fetch and push, refreshed before it expires), so the token
is never on a command line (visible in `ps`), never in a remote URL and never written to
`.git/config` or a credential store (other configured helpers are reset for that command,
so `credential.helper=store` in a user's global config cannot save it). Every error
message, git's stderr included, goes through `chartgen.errors.redact`.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from chartgen.errors import _SECRET_ENV, ChartgenError, UsageError, printable, redact
from chartgen.gitops.auth import APP_ENV, NO_CREDENTIALS, Credentials, StaticToken

TOKEN_ENV = "CHARTGEN_GIT_PASSWORD"
# Prints the credentials on `get`; ignores `store`/`erase`, so nothing is ever saved.
_HELPER = ('!f() { test "$1" = get || exit 0; echo "username=${CHARTGEN_GIT_USERNAME:-x-access-token}"; '
           f'echo "password=${{{TOKEN_ENV}}}"; }}; f')
_REJECTED = re.compile(r"\[rejected\]|\(stale info\)|\(fetch first\)|non-fast-forward|failed to update ref|"
                       r"cannot lock ref|\[remote rejected\].*(?:lock|stale|changed)", re.IGNORECASE)


_AUTH_FAILED = re.compile(r"Authentication failed|could not read Username|terminal prompts disabled|"
                          r"HTTP Basic: Access denied|\b40[13]\b", re.IGNORECASE)


class GitError(ChartgenError):
    """A git command failed; the message carries git's (redacted) stderr."""

    def __init__(self, args: list[str], returncode: int, stderr: str, *, code: str = "git-failed") -> None:
        self.returncode = returncode
        self.stderr = redact(stderr.strip())
        shown = " ".join(a for a in args if not a.startswith("-c"))
        super().__init__(f"git {redact(shown)} failed (exit {returncode}): {self.stderr or 'no message'}",
                         code=code)


class PushRejected(GitError):
    """The remote branch moved since we fetched it (lease broken or non-fast-forward)."""


def is_local(url: str) -> bool:
    return "://" not in url and not re.match(r"^[^/]+@[^/]+:", url)


def check_url(url: str) -> str:
    """Refuse URLs that carry credentials; local paths become file:// so --depth applies."""
    if not url:
        raise UsageError("no chart repository given: pass --config-repo URL or set pr.configRepo in chartgen.yaml",
                         code="pr-no-repo")
    if is_local(url):
        return Path(url).resolve().as_uri()
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise UsageError("the chart repository URL must not contain credentials; put the token in "
                         "GITHUB_TOKEN or GH_TOKEN instead, or use a GitHub App (docs/github-app.md)",
                         code="pr-url-credentials")
    return url


def check_source_ref(ref: str) -> str:
    """`--source-ref`: an http(s) URL or a git reference name, nothing else (it is shown in
    pull requests and commit messages)."""
    from chartgen.markdown import is_ref_name, is_url

    if not (is_url(ref) or is_ref_name(ref)):
        raise UsageError(f"source reference {printable(ref)!r} is neither an http(s) URL nor a git reference "
                         "name (a commit, branch or tag)", code="pr-source-ref")
    return ref


_COMMIT = re.compile(r"[0-9a-fA-F]{4,64}")


def is_commit(text: str | None) -> bool:
    return bool(text) and _COMMIT.fullmatch(text) is not None


def check_commit(commit: str) -> str:
    """`--source-commit`: a commit id (4 to 64 hexadecimal digits)."""
    if not is_commit(commit):
        raise UsageError(f"source commit {printable(commit)!r} is not a commit id (4 to 64 hexadecimal digits)",
                         code="bad-commit")
    return commit


def needs_token(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


@dataclass
class Git:
    """git commands in one working tree. `token` (a string, or chartgen.gitops.auth credentials
    asked for the current token at each command) is used only by `remote=True` commands."""

    cwd: Path
    token: str | Credentials | None = field(default=None, repr=False)
    username: str = "x-access-token"
    timeout: float = 600

    def __post_init__(self) -> None:
        token = self.token
        self.credentials = StaticToken(token, username=self.username) if isinstance(token, str) else token

    def _env(self, remote: bool, extra: dict[str, str] | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CONFIG_COUNT",
                                    "GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_", "GIT_CONFIG_PARAMETERS"))}
        env.update(LC_ALL="C", LANG="C", GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="", SSH_ASKPASS="",
                   GCM_INTERACTIVE="never")
        config = [("core.hooksPath", os.devnull), ("advice.detachedHead", "false"),
                  ("init.defaultBranch", "main")]
        for name in (TOKEN_ENV, *_SECRET_ENV, *APP_ENV):
            env.pop(name, None)  # git and anything it runs never see the caller's tokens or keys
        if remote and self.credentials:
            # "" resets the helper list, then ours: nothing else sees (or stores) the token.
            config += [("credential.helper", ""), ("credential.helper", _HELPER)]
            env[TOKEN_ENV] = self.credentials.token()
            env["CHARTGEN_GIT_USERNAME"] = self.credentials.username
        env["GIT_CONFIG_COUNT"] = str(len(config))
        for i, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{i}"] = key
            env[f"GIT_CONFIG_VALUE_{i}"] = value
        env.update(extra or {})
        return env

    def run(self, *args: str, remote: bool = False, check: bool = True, env: dict[str, str] | None = None,
            input: str | None = None) -> subprocess.CompletedProcess:
        argv = ["git", *args]
        try:
            proc = subprocess.run(argv, cwd=self.cwd, env=self._env(remote, env), input=input,
                                  capture_output=True, text=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise GitError(list(args), -1, f"timed out after {self.timeout:.0f}s", code="git-timeout") from None
        except FileNotFoundError:
            raise ChartgenError("git is not installed (needed to clone the chart repository)",
                                code="git-missing") from None
        if check and proc.returncode != 0:
            if remote and _AUTH_FAILED.search(proc.stderr):
                hint = self.credentials.hint if self.credentials else f"the chart repository needs {NO_CREDENTIALS}"
                raise GitError(list(args), proc.returncode, f"{proc.stderr.strip()}\n({hint})", code="git-auth")
            raise GitError(list(args), proc.returncode, proc.stderr)
        return proc

    def out(self, *args: str, **kwargs) -> str:
        return self.run(*args, **kwargs).stdout.strip()

    # -- remote operations -------------------------------------------------------------
    def ls_remote(self, url: str, branches: list[str]) -> dict[str, str]:
        """branch -> commit for the branches that exist on the remote."""
        refs = [f"refs/heads/{b}" for b in branches]
        text = self.out("ls-remote", "--heads", url, *refs, remote=True)
        found = {}
        for line in text.splitlines():
            sha, _, ref = line.partition("\t")
            if ref.startswith("refs/heads/"):
                found[ref[len("refs/heads/"):]] = sha
        return found

    def fetch(self, remote_name: str, branches: list[str], depth: int | None = 1) -> None:
        specs = [f"+refs/heads/{b}:refs/remotes/{remote_name}/{b}" for b in branches]
        depth_args = [f"--depth={depth}"] if depth else []
        self.run("fetch", "--no-tags", "--prune", *depth_args, remote_name, *specs, remote=True)

    def push(self, remote_name: str, branch: str, expected: str | None) -> bool:
        """Push HEAD to `branch`, only if the remote branch is still `expected` (None: absent).
        False when the remote already had exactly this commit (nothing was updated)."""
        lease = f"--force-with-lease=refs/heads/{branch}:{expected or ''}"
        proc = self.run("push", "--porcelain", lease, remote_name, f"HEAD:refs/heads/{branch}",
                        remote=True, check=False)
        if proc.returncode != 0:
            text = proc.stderr + "\n" + proc.stdout
            kind = PushRejected if _REJECTED.search(text) else GitError
            raise kind(["push", remote_name, f"HEAD:refs/heads/{branch}"], proc.returncode, text)
        # --porcelain: one "<flag>\t<from>:<to>\t<summary>" line per ref; "=" is "up to date"
        return not any(line.startswith("=\t") for line in proc.stdout.splitlines())

    def delete_branch(self, remote_name: str, branch: str, expected: str) -> bool:
        """Delete the remote `branch` only if it is still at `expected`. False when it moved
        (someone pushed meanwhile: their work is not thrown away) or is already gone."""
        lease = f"--force-with-lease=refs/heads/{branch}:{expected}"
        proc = self.run("push", "--porcelain", lease, remote_name, f":refs/heads/{branch}", remote=True, check=False)
        if proc.returncode != 0:
            text = proc.stderr + "\n" + proc.stdout
            if _REJECTED.search(text) or "remote ref does not exist" in text:
                return False
            raise GitError(["push", remote_name, f":refs/heads/{branch}"], proc.returncode, text)
        return True

    # -- local operations ----------------------------------------------------------------
    @classmethod
    def init(cls, path: Path, url: str, *, token: str | None = None, remote_name: str = "origin") -> "Git":
        path.mkdir(parents=True, exist_ok=True)
        git = cls(path, token)
        git.run("init", "--quiet")
        git.run("remote", "add", remote_name, url)
        return git

    def rev_parse(self, rev: str) -> str | None:
        proc = self.run("rev-parse", "--verify", "--quiet", rev, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def commit(self, message: str, name: str, email: str) -> str:
        ident = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                 "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
        self.run("commit", "--quiet", "--no-verify", "--no-gpg-sign", "-F", "-", input=message, env=ident)
        return self.out("rev-parse", "HEAD")
