"""The `pixchat` command line.

Each group of commands lives in its own module with a `register(subparsers)` function:
`cli_sessions` (the session store), `cli_edit` (one-off edits and option grids),
`cli_chat` (chat turns on a session). A command
raises one of `USER_ERRORS` for anything the person can fix; `main` prints its one-sentence
message and exits with status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import cli_chat, cli_edit, cli_sessions
from .errors import USER_ERRORS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pixchat", description="Edit images by chatting with them."
    )
    parser.add_argument(
        "--db", default=os.environ.get("PIXCHAT_DB"),
        help="SQLAlchemy URL of the session store (default: $PIXCHAT_DB or a SQLite file "
        "in the data folder)",
    )
    parser.add_argument(
        "--data", default=os.environ.get("PIXCHAT_DATA"),
        help="folder for the database and image files (default: $PIXCHAT_DATA or ~/.pixchat)",
    )
    parser.add_argument(
        "--owner", default=os.environ.get("PIXCHAT_OWNER", "local"),
        help="whose sessions to act on (default: $PIXCHAT_OWNER or 'local')",
    )
    parser.add_argument(
        "--editor-url", default=os.environ.get("PIXCHAT_EDITOR_URL"),
        help="edit on the editor service at this URL (deploy/README.md) instead of in this "
        "process (default: $PIXCHAT_EDITOR_URL)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cli_sessions.register(subparsers)
    cli_edit.register(subparsers)
    cli_chat.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; everything already stored is kept.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
