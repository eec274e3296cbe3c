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
    from chartgen.cli import main as cli_main

    cli_main()
