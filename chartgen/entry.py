"""Console-script entry point.

`chartgen --version` is answered here, before click and the command machinery are
imported: pipelines and tools probe it often, and start-up must stay well under 150 ms.
"""

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from chartgen import __version__

        sys.stdout.write(f"chartgen {__version__}\n")
        return
    settle_temp_dir()
    from chartgen.cli import main as cli_main

    try:
        cli_main()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            leave(exc.code or 0)
        raise
    leave(0)


def leave(status: int) -> None:
    """Exit with `status` now, without the interpreter's teardown: freeing a build's objects one
    by one (a million at 1,000 workflows) takes a tenth of a second for nothing. The exit
    handlers still run and the output is flushed; returns (the usual exit follows) while another
    thread must be waited for or the output cannot be flushed."""
    import atexit
    import os
    import threading

    if any(t is not threading.main_thread() and not t.daemon for t in threading.enumerate()):
        return
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):      # a closed pipe or stream: Python's own exit reports it
        return
    os._exit(status)


def settle_temp_dir() -> None:
    """Choose Python's temporary folder by access checks. Left to itself, `tempfile` finds it
    by creating and deleting a probe file with a random 8-letter name: a run killed in between
    (a cancelled CI job) leaves a file no later run can tell from anybody's. Same order as
    `tempfile`: $TMPDIR, $TEMP, $TMP, /tmp, /var/tmp, /usr/tmp; none usable: `tempfile` decides."""
    import os
    import tempfile

    if tempfile.tempdir is not None:
        return
    for candidate in [os.environ.get(name) for name in ("TMPDIR", "TEMP", "TMP")] + ["/tmp", "/var/tmp", "/usr/tmp"]:
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            tempfile.tempdir = os.path.abspath(candidate)
            return
