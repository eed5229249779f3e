"""``python -m initcore`` and the ``initcore`` console script.

A thin guard in front of :func:`initcore.cli.main`: importing the command line pulls in torch and
pandas, which takes seconds, and Ctrl-C during that start-up would otherwise end in a traceback.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Import the command line and run it; Ctrl-C while importing is one line, status 130."""
    try:
        # Imported here, not at the top: this guard must be in place before the slow imports.
        from .cli import main as cli_main
    except KeyboardInterrupt:
        print("initcore: interrupted during start-up; nothing written", file=sys.stderr)
        return 130
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
