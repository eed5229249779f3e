"""``python -m initcore`` and the ``initcore`` console script.

A thin guard in front of :func:`initcore.cli.main`: importing the command line pulls in torch and
pandas, which takes seconds, and Ctrl-C during that start-up would otherwise end in a traceback.
"""

from __future__ import annotations

import signal
import sys

INTERRUPTED = "initcore: interrupted during start-up; nothing written"


def main() -> int:
    """Import the command line and run it; Ctrl-C while importing is one line, status 130."""
    pressed = []

    def on_ctrl_c(signum, frame):
        pressed.append(signum)
        raise KeyboardInterrupt

    # Ctrl-C inside a C extension's initialization surfaces as an ImportError ("initialization
    # failed", seen with scipy), and inside an optional import guarded by `except ImportError`
    # it is swallowed: remembering that it was pressed tells both apart from a broken install.
    signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        # Imported here, not at the top: this guard must be in place before the slow imports.
        from .cli import main as cli_main
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130
    except ImportError:
        if not pressed:
            raise
        print(INTERRUPTED, file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if pressed:  # a library swallowed the KeyboardInterrupt: the user still asked to stop
        print(INTERRUPTED, file=sys.stderr)
        return 130
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
