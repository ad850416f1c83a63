"""`pixchat` commands for the session store: one command per `SessionStore` operation.

    pixchat new IMAGE [--title T]          prints the new session id alone on its last line
    pixchat sessions [--json]
    pixchat history SESSION [--json]
    pixchat undo|redo|reset SESSION
    pixchat revert SESSION STEP            STEP as `pixchat history` numbers it (0: original)
    pixchat show SESSION [--step N] --out FILE.png
    pixchat export SESSION FILE.zip
    pixchat import FILE.zip                prints the new session id alone on its last line
    pixchat rename SESSION TITLE
    pixchat delete SESSION
    pixchat gc

`--json` prints the store's own records (a list of `SessionInfo`, a `History`) with
`memory.to_json`; memory/README.md describes the formats, which only ever gain fields.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from editor.images import load_image
from memory import History, NavigationResult, NodeInfo, SessionStore, StoreError, to_json

from .history_tree import tree_rows
from .numbers import scale_text
from .setup import read_upload


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the session commands to the `pixchat` parser."""
    new = subparsers.add_parser("new", help="start a session from an image; prints its id")
    new.add_argument("image", type=Path, help="PNG, JPEG, WebP, GIF, BMP or TIFF file")
    new.add_argument("--title", help="session title (default: the file name)")
    new.set_defaults(run=new_session)

    sessions = subparsers.add_parser("sessions", help="list your sessions, newest first")
    sessions.add_argument("--json", action="store_true", help="print a JSON list")
    sessions.set_defaults(run=list_sessions)

    history = subparsers.add_parser("history", help="show a session's edit tree")
    history.add_argument("session")
    history.add_argument("--json", action="store_true", help="print the whole tree as JSON")
    history.set_defaults(run=show_history)

    for name, text, run in [
        ("undo", "go back one edit", undo),
        ("redo", "go forward again along the branch visited last", redo),
        ("reset", "go back to the original image", reset),
    ]:
        command = subparsers.add_parser(name, help=text)
        command.add_argument("session")
        command.set_defaults(run=run)

    revert_ = subparsers.add_parser("revert", help="make any step the current image")
    revert_.add_argument("session")
    revert_.add_argument("step", type=int, help="a step number from `pixchat history`; 0 is "
                         "the original")
    revert_.set_defaults(run=revert)

    show = subparsers.add_parser("show", help="save the current image (or any step's) as PNG")
    show.add_argument("session")
    show.add_argument("--step", type=int, help="step number from `pixchat history` "
                      "(default: the current image)")
    show.add_argument("--out", type=png_path, required=True, help="PNG file to write")
    show.set_defaults(run=show_image)

    export = subparsers.add_parser("export", help="save a session to a zip file")
    export.add_argument("session")
    export.add_argument("file", type=Path, help="the .zip file to write")
    export.set_defaults(run=export_session)

    import_ = subparsers.add_parser("import", help="add an exported zip as a new session")
    import_.add_argument("file", type=Path)
    import_.set_defaults(run=import_session)

    rename = subparsers.add_parser("rename", help="change a session's title")
    rename.add_argument("session")
    rename.add_argument("title")
    rename.set_defaults(run=rename_session)

    delete = subparsers.add_parser("delete", help="delete a session and its images")
    delete.add_argument("session")
    delete.set_defaults(run=delete_session)

    gc = subparsers.add_parser("gc", help="remove image files that no session uses")
    gc.set_defaults(run=collect_garbage)


def open_store(args: argparse.Namespace) -> SessionStore:
    """The session store named by the global --db and --data options."""
    return SessionStore(args.db, args.data)


def png_path(value: str) -> Path:
    if not value.lower().endswith(".png"):
        raise argparse.ArgumentTypeError(f"{value!r} must end in .png; images are saved as PNG")
    return Path(value)


def new_session(args: argparse.Namespace) -> int:
    png = read_upload(args.image)  # checked before anything is written
    session = open_store(args).create_session(args.owner, png, args.title or args.image.stem)
    print(f"Started session {session.title!r} with {args.image.name}.")
    print(session.id)
    return 0


def list_sessions(args: argparse.Namespace) -> int:
    sessions = open_store(args).list_sessions(args.owner)
    if args.json:
        print(to_json(sessions))
        return 0
    if not sessions:
        print("No sessions yet; start one with `pixchat new IMAGE`.")
    for session in sessions:
        print(f"{session.id}  {session.updated_at:%Y-%m-%d %H:%M}  "
              f"{session.node_count:>4} images  {session.title}")
    return 0


def show_history(args: argparse.Namespace) -> int:
    history = open_store(args).history(args.owner, args.session)
    if args.json:
        print(to_json(history))
        return 0
    print(f"{history.session.title}: {history.session.node_count} images "
          "(* marks the way to the current image)")
    for line in tree_lines(history):
        print(line)
    return 0


def undo(args: argparse.Namespace) -> int:
    return _report(open_store(args).undo(args.owner, args.session))


def redo(args: argparse.Namespace) -> int:
    return _report(open_store(args).redo(args.owner, args.session))


def reset(args: argparse.Namespace) -> int:
    return _report(open_store(args).reset(args.owner, args.session))


def revert(args: argparse.Namespace) -> int:
    store = open_store(args)
    node = store.history(args.owner, args.session).node_at_step(args.step)
    return _report(store.revert(args.owner, args.session, node.id))


def _report(result: NavigationResult) -> int:
    print(result.message)
    return 0


def show_image(args: argparse.Namespace) -> int:
    store = open_store(args)
    node_id = None
    if args.step is not None:
        node_id = store.history(args.owner, args.session).node_at_step(args.step).id
    png = store.node_image(args.owner, args.session, node_id)
    try:
        args.out.write_bytes(png)
    except OSError as error:
        raise StoreError(
            f"Cannot write {args.out} ({error.strerror}); choose a writable place."
        ) from None
    print(f"Saved {args.out}.")
    return 0


def export_session(args: argparse.Namespace) -> int:
    path = open_store(args).export_session(args.owner, args.session, args.file)
    print(f"Exported session {args.session} to {path}.")
    return 0


def import_session(args: argparse.Namespace) -> int:
    session = open_store(args).import_session(args.owner, args.file, check_image=load_image)
    print(f"Imported {session.title!r} with {session.node_count} images.")
    print(session.id)
    return 0


def rename_session(args: argparse.Namespace) -> int:
    session = open_store(args).rename(args.owner, args.session, args.title)
    print(f"Renamed session {session.id} to {session.title!r}.")
    return 0


def delete_session(args: argparse.Namespace) -> int:
    removed = open_store(args).delete_session(args.owner, args.session)
    print(f"Deleted session {args.session} and {removed} image files no other session uses.")
    return 0


def collect_garbage(args: argparse.Namespace) -> int:
    removed = open_store(args).collect_garbage()
    print(f"Removed {removed} image files that no session uses.")
    return 0


def tree_lines(history: History) -> list[str]:
    """The tree as text (see `history_tree`), the way to the head marked with `*`.

        * 0  original 512×512
        * 1  'make it winter'  s_T 7.5  s_I 1.5  seed 42
          ├─ 2  'more snow'  ...
        * └─ 3  'add a hat'  ...  ← head
    """
    on_head_path = set(history.head_path)
    lines = []
    for row in tree_rows(history):
        mark = "*" if row.node.id in on_head_path else " "
        head = "  ← head" if row.node.id == history.session.head_id else ""
        lines.append(f"{mark} {row.branch}{row.step}  {_describe(row.node)}{head}")
    return lines


def _describe(node: NodeInfo) -> str:
    if node.parent_id is None:
        return f"original {node.width}×{node.height}"
    params = node.params
    parts = [repr(params.instruction or params.chat_text)]
    for label, value in [("s_T", params.text_scale), ("s_I", params.image_scale)]:
        if value is not None:
            parts.append(f"{label} {scale_text(value)}")
    if params.seed is not None:
        parts.append(f"seed {params.seed}")
    return "  ".join(parts)
