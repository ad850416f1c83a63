"""The session store: sessions, their edit tree, undo/redo/revert, the chat transcript.

Every public method takes the acting `owner` and refuses another owner's session, and
returns the frozen dataclasses of `memory.records`, never ORM rows.

How the head moves: undo goes back to the image shown before this one, redo forward again,
like a browser's back and forward buttons over the images the person was shown (the
`views`); an edit, revert or reset after an undo takes the place of the images ahead, as a
new page does. So undo after "a bit less" returns to the attempt before it, not to the tree
parent they share. Where no image was shown before (a session imported from an export),
undo goes to the parent and redo to the child that `redo_child_id` names: whenever the head
moves to a node, every node on the way down from the root remembers the child taken, so
redo retraces the branch visited last. Revert goes to any node, reset to the root; a new
edit after an undo starts a new branch and the old one stays.

Locking: a write transaction locks its session row (SQLite: the whole database) before
it writes an image, and garbage collection takes the same locks, so it never removes an
image that a commit in flight is about to point to.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from PIL import Image
from pydantic import ValidationError
from sqlalchemy import Row, delete, func, select, text, update
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from .blobs import BlobStore, FileBlobStore, TableBlobStore, sha256_hex
from .database import open_database, reason
from .errors import Busy, Forbidden, InvalidArchive, NotFound, StoreError
from .models import MessageRow, NodeRow, SessionRow, ViewRow, utc_now
from .records import (
    ARCHIVE_FORMAT,
    ARCHIVE_VERSION,
    Archive,
    EditParams,
    History,
    MessageInfo,
    NavigationResult,
    NodeInfo,
    SessionInfo,
    read_archive_json,
    to_json,
)

DEFAULT_LOCK_TIMEOUT = 10.0
MAX_TITLE_LENGTH = 200
IMPORTED = " (imported)"  # added to an imported session's title
MAX_ARCHIVE_IMAGE_BYTES = 512 * 1024 * 1024
# What session ids are made of: hex now (`new_session_id`), URL-safe base64 before. Anything
# else (a path, an SQL fragment) is refused before it reaches a query.
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def default_data_dir() -> Path:
    """$PIXCHAT_DATA, else ~/.pixchat: where the SQLite file and the image files live."""
    return Path(os.environ.get("PIXCHAT_DATA") or "~/.pixchat").expanduser()


def default_url(data_dir: Path) -> str:
    """$PIXCHAT_DB, else a SQLite file in `data_dir`."""
    return os.environ.get("PIXCHAT_DB") or f"sqlite:///{data_dir / 'pixchat.db'}"


def new_session_id() -> str:
    """A random session id that is safe to type anywhere: hex digits never look like a
    command-line option, which an id starting with "-" would."""
    return secrets.token_hex(12)


class SessionStore:
    """Sessions of image edits over any SQLAlchemy database, images in a blob store.

    `url` defaults to `default_url(data_dir)`, `data_dir` to `default_data_dir()`. `blobs`
    is "files" (image files in `data_dir`/images, the default) or "table" (image bytes in
    the database, for app machines that share only it); $PIXCHAT_BLOBS sets it too.
    Opening upgrades the database schema to the newest migration. A writer waits up to
    `lock_timeout` seconds for another one to finish, then raises `Busy`.
    """

    def __init__(
        self,
        url: str | None = None,
        data_dir: Path | str | None = None,
        blobs: Literal["files", "table"] | None = None,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self.data_dir = Path(data_dir).expanduser() if data_dir else default_data_dir()
        self.url = url or default_url(self.data_dir)
        self.lock_timeout = lock_timeout
        self._blobs = _open_blob_store(blobs or os.environ.get("PIXCHAT_BLOBS") or "files",
                                       self.data_dir)
        self._engine = open_database(self.url, lock_timeout)
        self._writer = self._engine.execution_options(write=True)

    def close(self) -> None:
        self._engine.dispose()

    # --- sessions ---------------------------------------------------------------------

    def create_session(self, owner: str, png: bytes, title: str | None = None) -> SessionInfo:
        """Start a session whose root node is the uploaded image `png`."""
        with self._transaction(write=True) as db:
            session = SessionRow(id=new_session_id(), owner=owner,
                                 title=_clean_title(title))
            db.add(session)
            db.flush()  # the new row is this writer's lock before it writes the image
            root = self._add_node(db, session.id, None, png, EditParams())
            session.root_id = session.head_id = root.id
            session.view_id = _add_view(db, session.id, root.id).id
            db.flush()
            return _session_info(session, node_count=1)

    def list_sessions(self, owner: str) -> list[SessionInfo]:
        """The owner's sessions, most recently changed first."""
        node_counts = (
            select(NodeRow.session_id, func.count().label("node_count"))
            .group_by(NodeRow.session_id)
            .subquery()
        )
        query = (
            select(SessionRow, node_counts.c.node_count)
            .join(node_counts, node_counts.c.session_id == SessionRow.id)
            .where(SessionRow.owner == owner)
            .order_by(SessionRow.updated_at.desc())
        )
        with self._transaction(write=False) as db:
            return [_session_info(row, count) for row, count in db.execute(query)]

    def get_session(self, owner: str, session_id: str) -> SessionInfo:
        """One session's record (title, root, head, ...) without its tree."""
        with self._transaction(write=False) as db:
            session = _owned_session(db, owner, session_id)
            return _session_info(session, _count_nodes(db, session.id))

    def rename(self, owner: str, session_id: str, title: str) -> SessionInfo:
        with self._transaction(write=True) as db:
            session = _owned_session(db, owner, session_id, lock=True)
            session.title = _clean_title(title)
            session.updated_at = utc_now()
            db.flush()
            return _session_info(session, _count_nodes(db, session.id))

    def delete_session(self, owner: str, session_id: str) -> int:
        """Delete a session with its nodes and messages; return how many images went too."""
        with self._transaction(write=True) as db:
            session = _owned_session(db, owner, session_id, lock=True)
            db.execute(delete(SessionRow).where(SessionRow.id == session.id))
        return self.collect_garbage()

    def collect_garbage(self) -> int:
        """Remove images and masks no node points to (left by a crash or a deleted session)."""
        with self._transaction(write=True) as db:
            if db.get_bind().dialect.name == "postgresql":
                # Writers lock a session row before writing an image: wait until none is.
                db.execute(text("LOCK TABLE sessions IN EXCLUSIVE MODE"))
            referenced = set(db.scalars(select(NodeRow.image_sha256).distinct()))
            referenced |= {sha256 for sha256 in db.scalars(select(NodeRow.mask_sha256).distinct())
                           if sha256 is not None}
            return self._blobs.remove_unreferenced(db, referenced)

    # --- the edit tree ----------------------------------------------------------------

    def commit_edit(
        self, owner: str, session_id: str, parent_id: int, png: bytes, *,
        mask_png: bytes | None = None, **params: Any,
    ) -> NodeInfo:
        """Add the edited image `png` as a child of `parent_id` and move the head to it.

        `mask_png` is the edit mask: a greyscale ("L") PNG of the image's size, white where
        the edit changed it. `params` are the fields of `EditParams` (chat_text, ...).
        """
        edit = EditParams(**params)
        if mask_png is not None and (problem := _mask_problem(mask_png, png)):
            raise StoreError(f"The edit mask {problem}; nothing was stored.")
        with self._transaction(write=True) as db:
            session = _owned_session(db, owner, session_id, lock=True)
            parent = _session_node(db, session, parent_id)
            node = self._add_node(db, session.id, parent.id, png, edit, mask_png)
            _move_head(db, session, node)
            return _node_info(node)

    def undo(self, owner: str, session_id: str) -> NavigationResult:
        """Move the head back to the image shown before it (else to its parent); at the
        original nothing moves and the message says so."""
        with self._transaction(write=True) as db:
            session = _owned_session(db, owner, session_id, lock=True)
            head = db.get_one(NodeRow, session.head_id)
            view = _head_view(db, session)
            if view is not None and view.back_id is not None:
                back = db.get_one(ViewRow, view.back_id)
                back.forward_id = view.id  # redo returns here
                return _go_to(db, session, db.get_one(NodeRow, back.node_id), back)
            if head.parent_id is None:
                return _stay(head, "Nothing to undo: this is the original image.")
            view = view or _add_view(db, session.id, head.id)
            parent_view = _add_view(db, session.id, head.parent_id, forward_id=view.id)
            return _go_to(db, session, db.get_one(NodeRow, head.parent_id), parent_view)

    def redo(self, owner: str, session_id: str) -> NavigationResult:
        """Move the head forward to the image it was undone from (else to the child visited
        last); when there is none nothing moves."""
        with self._transaction(write=True) as db:
            session = _owned_session(db, owner, session_id, lock=True)
            head = db.get_one(NodeRow, session.head_id)
            view = _head_view(db, session)
            if view is not None and view.forward_id is not None:
                forward = db.get_one(ViewRow, view.forward_id)
                return _go_to(db, session, db.get_one(NodeRow, forward.node_id), forward)
            if head.redo_child_id is None:
                return _stay(head, "Nothing to redo: no edit was made after this image.")
            return _go_to(db, session, db.get_one(NodeRow, head.redo_child_id))

    def revert(self, owner: str, session_id: str, node_id: int) -> NavigationResult:
        """Move the head to any node of the session."""
        with self._transaction(write=True) as db:
            session = _owned_session(db, owner, session_id, lock=True)
            return _go_to(db, session, _session_node(db, session, node_id))

    def reset(self, owner: str, session_id: str) -> NavigationResult:
        """Move the head back to the original image."""
        with self._transaction(write=True) as db:
            session = _owned_session(db, owner, session_id, lock=True)
            return _go_to(db, session, db.get_one(NodeRow, session.root_id))

    def history(self, owner: str, session_id: str) -> History:
        with self._transaction(write=False) as db:
            return _history(db, _owned_session(db, owner, session_id))

    def node_image(self, owner: str, session_id: str, node_id: int | None = None) -> bytes:
        """The PNG bytes of a node (of the head when `node_id` is None)."""
        with self._transaction(write=False) as db:
            node = _owned_node(db, owner, session_id, node_id)
            return self._blobs.get(db, node.image_sha256)

    def node_mask(self, owner: str, session_id: str, node_id: int | None = None) -> bytes | None:
        """The edit mask of a node (of the head when `node_id` is None) as PNG bytes, white
        where the edit changed the image; None for the original and nodes made before masks."""
        with self._transaction(write=False) as db:
            node = _owned_node(db, owner, session_id, node_id)
            return None if node.mask_sha256 is None else self._blobs.get(db, node.mask_sha256)

    # --- transcript -------------------------------------------------------------------

    def add_message(
        self, owner: str, session_id: str, role: str, text: str, node_id: int | None = None
    ) -> MessageInfo:
        """Append a chat message ("user" or "assistant"), optionally tied to a node."""
        with self._transaction(write=True) as db:
            session = _owned_session(db, owner, session_id)
            if node_id is not None:
                _session_node(db, session, node_id)
            message = MessageRow(session_id=session.id, role=role, text=text, node_id=node_id)
            db.add(message)
            db.flush()
            return _message_info(message)

    def messages(self, owner: str, session_id: str) -> list[MessageInfo]:
        """The session's transcript, oldest first."""
        with self._transaction(write=False) as db:
            return _messages(db, _owned_session(db, owner, session_id).id)

    # --- export and import ------------------------------------------------------------

    def export_session(self, owner: str, session_id: str, path: Path | str) -> Path:
        """Write the session to a zip: `history.json` (an `Archive`), every image and mask."""
        path = Path(path)
        partial = path.with_name(path.name + ".part")
        try:
            with self._transaction(write=False) as db:
                session = _owned_session(db, owner, session_id)
                archive = Archive(format=ARCHIVE_FORMAT, version=ARCHIVE_VERSION,
                                  history=_history(db, session),
                                  messages=_messages(db, session.id))
                with zipfile.ZipFile(partial, "w") as zip_file:
                    zip_file.writestr("history.json", to_json(archive),
                                      compress_type=zipfile.ZIP_DEFLATED)
                    for sha256 in _image_hashes(archive.history):
                        zip_file.writestr(f"images/{sha256}.png", self._blobs.get(db, sha256))
            partial.replace(path)
        except OSError as error:
            raise StoreError(
                f"Cannot write {path} ({error.strerror}); choose a writable place."
            ) from None
        finally:
            partial.unlink(missing_ok=True)
        return path

    def import_session(
        self, owner: str, path: Path | str, *, check_image: Callable[[bytes], object] | None = None
    ) -> SessionInfo:
        """Add an exported zip as a new session of `owner` (with new ids).

        `check_image` is called on every image and mask before anything is stored and may
        raise to refuse it; the command line passes the upload checks of `editor.images`.
        """
        path = Path(path)
        try:
            with zipfile.ZipFile(path) as zip_file:
                archive = _read_archive(zip_file, path.name)
                images = {sha256: _read_image(zip_file, sha256, path.name)
                          for sha256 in _image_hashes(archive.history)}
                _check_masks(archive.history, images, path.name)
        except (OSError, zipfile.BadZipFile):
            raise InvalidArchive(
                f"{path.name} is not a readable zip file; give a file made by pixchat export."
            ) from None
        if check_image is not None:
            for png in images.values():
                check_image(png)
        with self._transaction(write=True) as db:
            return self._add_archive(db, owner, archive, images)

    # --- internals --------------------------------------------------------------------

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Session]:
        """A transaction; a write one holds the database's write lock (SQLite) from the start."""
        try:
            with Session(self._writer if write else self._engine) as db, db.begin():
                yield db
        except OperationalError as error:
            problem = reason(error)
            if "locked" in problem:
                raise Busy(
                    f"The database stayed locked by another program for {self.lock_timeout:g} s;"
                    " try again when it has finished."
                ) from None
            if any(word in problem for word in ("full", "readonly", "read-only", "I/O")):
                raise StoreError(
                    f"The database cannot be written ({problem}); free some disk space or make "
                    "the data folder writable, then try again: nothing was changed."
                ) from None
            raise StoreError(
                f"The database failed ({problem}); check that it is reachable."
            ) from None
        except (DataError, UnicodeEncodeError) as error:
            # a NUL character (PostgreSQL keeps none), a byte that is not UTF-8, a number
            # beyond the column's range
            problem = reason(error) if isinstance(error, DataError) else "text that is not UTF-8"
            raise StoreError(
                f"The database refused a value ({problem}); nothing was changed."
            ) from None
        except StaleDataError:
            raise Busy(
                "The session was changed by another program at the same moment; try again."
            ) from None

    def _add_node(
        self, db: Session, session_id: str, parent_id: int | None, png: bytes,
        edit: EditParams, mask_png: bytes | None = None, created_at: datetime | None = None,
    ) -> NodeRow:
        """A new node row for `png` (and its checked edit mask `mask_png`)."""
        width, height = _png_size(png)
        mask_sha256 = None if mask_png is None else self._blobs.put(db, mask_png)
        node = NodeRow(session_id=session_id, parent_id=parent_id,
                       image_sha256=self._blobs.put(db, png), mask_sha256=mask_sha256,
                       width=width, height=height, created_at=created_at or utc_now(),
                       **asdict(edit))
        db.add(node)
        db.flush()
        return node

    def _add_archive(
        self, db: Session, owner: str, archive: Archive, images: dict[str, bytes]
    ) -> SessionInfo:
        old = archive.history
        session = SessionRow(id=new_session_id(), owner=owner,
                             title=imported_title(old.session.title),
                             created_at=old.session.created_at)
        db.add(session)
        db.flush()
        new_id: dict[int, int] = {}
        for node in old.nodes:
            parent_id = None if node.parent_id is None else new_id[node.parent_id]
            row = self._add_node(db, session.id, parent_id, images[node.image_sha256],
                                 node.params,
                                 None if node.mask_sha256 is None else images[node.mask_sha256],
                                 node.created_at)
            new_id[node.id] = row.id
        for node in old.nodes:
            if node.redo_child_id is not None:
                db.get_one(NodeRow, new_id[node.id]).redo_child_id = new_id[node.redo_child_id]
        session.root_id = new_id[old.session.root_id]
        session.head_id = new_id[old.session.head_id]
        for message in archive.messages:
            node_id = None if message.node_id is None else new_id[message.node_id]
            db.add(MessageRow(session_id=session.id, role=message.role, text=message.text,
                              node_id=node_id, created_at=message.created_at))
        db.flush()
        return _session_info(session, len(old.nodes))


def imported_title(title: str) -> str:
    """An imported session's title: its source's, marked (once), so the two are told apart."""
    if title.endswith(IMPORTED):
        return title
    return title[:MAX_TITLE_LENGTH - len(IMPORTED)] + IMPORTED


def _open_blob_store(kind: str, data_dir: Path) -> BlobStore:
    if kind == "files":
        return FileBlobStore(data_dir / "images")
    if kind == "table":
        return TableBlobStore()
    raise StoreError(f"Unknown image store {kind!r}; use 'files' or 'table'.")


def _owned_session(db: Session, owner: str, session_id: str, *, lock: bool = False) -> SessionRow:
    """The session row, refused unless `owner` owns it; `lock` holds it until commit."""
    if not SESSION_ID.fullmatch(session_id):
        shown = session_id if len(session_id) <= 40 else f"{session_id[:40]}…"
        raise NotFound(f"{shown!r} is not a session id; use one that pixchat sessions lists.")
    query = select(SessionRow).where(SessionRow.id == session_id)
    session = db.scalar(query.with_for_update() if lock else query)
    if session is None:
        raise NotFound(f"There is no session {session_id!r}; check the id.")
    if session.owner != owner:
        raise Forbidden(
            f"Session {session_id!r} belongs to another owner; act as that owner or "
            "choose one of your own sessions."
        )
    return session


def _owned_node(db: Session, owner: str, session_id: str, node_id: int | None) -> NodeRow:
    """A node of the owner's session; the head when `node_id` is None."""
    session = _owned_session(db, owner, session_id)
    return _session_node(db, session, session.head_id if node_id is None else node_id)


def _session_node(db: Session, session: SessionRow, node_id: int) -> NodeRow:
    node = db.get(NodeRow, node_id)
    if node is None or node.session_id != session.id:
        raise NotFound(f"Session {session.id!r} has no node {node_id}; see its history.")
    return node


def _go_to(
    db: Session, session: SessionRow, node: NodeRow, view: ViewRow | None = None
) -> NavigationResult:
    where = f"step {_step(db, node)}: {_describe(node)}"
    if node.id == session.head_id:
        return _stay(node, f"Already at {where}.")
    _move_head(db, session, node, view)
    return NavigationResult(node=_node_info(node), moved=True, message=f"Now at {where}.")


def _step(db: Session, node: NodeRow) -> int:
    """The node's step number, as `History.node_at_step` counts: 0 is the original."""
    earlier = select(func.count()).where(NodeRow.session_id == node.session_id,
                                         NodeRow.id < node.id)
    return db.scalar(earlier) or 0


def _stay(node: NodeRow, message: str) -> NavigationResult:
    return NavigationResult(node=_node_info(node), moved=False, message=message)


def _move_head(
    db: Session, session: SessionRow, node: NodeRow, view: ViewRow | None = None
) -> None:
    """Point the head at `node`, shown as `view` (None: newly shown, after the head's view,
    in place of what redo would have gone to). Keeps the invariant that redo falls back on:
    along the path from the root to the head, each node's `redo_child_id` is the next node
    of the path.
    """
    if view is None:
        current = _head_view(db, session)
        view = _add_view(db, session.id, node.id,
                         back_id=current.id if current is not None else None)
        if current is not None:
            current.forward_id = view.id
    session.view_id = view.id
    head = db.get_one(NodeRow, session.head_id)
    if node.parent_id == head.id:  # one step down (an edit or a redo): the path grows by one
        head.redo_child_id = node.id
    elif node.id != head.parent_id:  # a jump (revert, reset, an edit on another node)
        _point_path_at(db, node.id)
    # One step up (undo) keeps the path above the new head as it was.
    session.head_id = node.id
    session.updated_at = utc_now()


def _point_path_at(db: Session, node_id: int) -> None:
    """Set `redo_child_id` along the path from the root down to `node_id`, where it differs."""
    path = (
        select(NodeRow.id, NodeRow.parent_id, NodeRow.redo_child_id)
        .where(NodeRow.id == node_id)
        .cte(recursive=True)
    )
    path = path.union_all(
        select(NodeRow.id, NodeRow.parent_id, NodeRow.redo_child_id)
        .join(path, NodeRow.id == path.c.parent_id)
    )
    rows = db.execute(select(path)).all()
    redo_child_of = {row.id: row.redo_child_id for row in rows}
    for row in rows:
        if row.parent_id is not None and redo_child_of[row.parent_id] != row.id:
            db.execute(update(NodeRow).where(NodeRow.id == row.parent_id)
                       .values(redo_child_id=row.id))


def _add_view(db: Session, session_id: str, node_id: int, **links: int | None) -> ViewRow:
    """A new view of `node_id`; `links` are its back_id and forward_id."""
    view = ViewRow(session_id=session_id, node_id=node_id, **links)
    db.add(view)
    db.flush()
    return view


def _head_view(db: Session, session: SessionRow) -> ViewRow | None:
    """The view the head was shown by; None when there is none (an imported session)."""
    view = db.get(ViewRow, session.view_id) if session.view_id is not None else None
    return view if view is not None and view.node_id == session.head_id else None


def _history(db: Session, session: SessionRow) -> History:
    # plain rows, not ORM objects: a long history is read several times faster
    rows = db.execute(select(NodeRow.__table__).where(NodeRow.session_id == session.id)
                      .order_by(NodeRow.id))
    nodes = [_node_info(row) for row in rows]
    parent_of = {node.id: node.parent_id for node in nodes}
    head_path = [session.head_id]
    while (parent_id := parent_of[head_path[-1]]) is not None:
        head_path.append(parent_id)
    return History(session=_session_info(session, len(nodes)), nodes=nodes,
                   head_path=head_path[::-1])


def _messages(db: Session, session_id: str) -> list[MessageInfo]:
    rows = db.scalars(
        select(MessageRow).where(MessageRow.session_id == session_id).order_by(MessageRow.id)
    )
    return [_message_info(row) for row in rows]


def _count_nodes(db: Session, session_id: str) -> int:
    return db.scalar(select(func.count()).where(NodeRow.session_id == session_id)) or 0


def _session_info(session: SessionRow, node_count: int) -> SessionInfo:
    return SessionInfo(
        id=session.id, owner=session.owner, title=session.title,
        created_at=session.created_at, updated_at=session.updated_at,
        root_id=session.root_id, head_id=session.head_id, version=session.version,
        node_count=node_count,
    )


def _node_info(node: NodeRow | Row) -> NodeInfo:
    return NodeInfo(
        id=node.id, parent_id=node.parent_id, redo_child_id=node.redo_child_id,
        image_sha256=node.image_sha256, width=node.width, height=node.height,
        created_at=node.created_at, params=EditParams.of(node), mask_sha256=node.mask_sha256,
    )


def _message_info(message: MessageRow) -> MessageInfo:
    return MessageInfo(id=message.id, role=message.role, text=message.text,
                       node_id=message.node_id, created_at=message.created_at)


def _describe(node: NodeRow) -> str:
    if node.parent_id is None:
        return "the original image"
    return repr(node.instruction or node.chat_text or "an edit")


def _clean_title(title: str | None) -> str:
    title = (title or "").strip() or "Untitled"
    if len(title) > MAX_TITLE_LENGTH:
        raise StoreError(
            f"A title can have at most {MAX_TITLE_LENGTH} characters; this one has {len(title)}."
        )
    return title


def _png_size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
        return image.size


def _mask_problem(mask_png: bytes, image_png: bytes) -> str | None:
    """What is wrong with `mask_png` as the edit mask of `image_png` ("is not a PNG image"),
    or None: a mask is a greyscale ("L") PNG of the image's size."""
    try:
        with Image.open(io.BytesIO(mask_png), formats=["PNG"]) as mask:
            mode, (width, height) = mask.mode, mask.size
    except (OSError, ValueError):
        return "is not a PNG image"
    image_width, image_height = _png_size(image_png)
    if mode != "L" or (width, height) != (image_width, image_height):
        return (f"is a {mode} PNG of {width}×{height}, not a greyscale (L) one "
                f"of its image's size, {image_width}×{image_height}")
    return None


def _check_masks(history: History, images: dict[str, bytes], name: str) -> None:
    """Refuse an archive whose edit masks do not fit their images."""
    for node in history.nodes:
        if node.mask_sha256 is None:
            continue
        problem = _mask_problem(images[node.mask_sha256], images[node.image_sha256])
        if problem:
            raise InvalidArchive(f"{name} holds an edit mask that {problem}; export it again.")


def _image_hashes(history: History) -> list[str]:
    """Each distinct image and mask of the history once, in the order first used."""
    return list(dict.fromkeys(sha256 for node in history.nodes
                              for sha256 in (node.image_sha256, node.mask_sha256) if sha256))


def _read_archive(zip_file: zipfile.ZipFile, name: str) -> Archive:
    """The archive's history.json, checked: valid fields, the root first, parents first."""
    try:
        archive = read_archive_json(zip_file.read("history.json"))
    except KeyError:
        raise InvalidArchive(f"{name} has no history.json; it is not a pixchat export.") from None
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise InvalidArchive(
            f"{name} has a damaged history.json ({where}: {problem['msg']}); export it again."
        ) from None
    nodes, session = archive.history.nodes, archive.history.session
    if not nodes or nodes[0].id != session.root_id or nodes[0].parent_id is not None:
        raise InvalidArchive(f"{name} does not start with the original image; export it again.")
    listed = {nodes[0].id}
    for node in nodes[1:]:
        if node.parent_id not in listed:
            raise InvalidArchive(f"{name} lists node {node.id} before its parent; export it again.")
        listed.add(node.id)
    mentioned = {session.head_id} | {node.redo_child_id for node in nodes}
    mentioned |= {message.node_id for message in archive.messages}
    if not mentioned - {None} <= listed:
        raise InvalidArchive(f"{name} refers to nodes it does not contain; export it again.")
    return archive


def _read_image(zip_file: zipfile.ZipFile, sha256: str, name: str) -> bytes:
    """One image of an archive, checked against its hash."""
    member = f"images/{sha256}.png"
    try:
        info = zip_file.getinfo(member)
    except KeyError:
        raise InvalidArchive(f"{name} lacks {member}; export the session again.") from None
    if info.file_size > MAX_ARCHIVE_IMAGE_BYTES:
        raise InvalidArchive(f"{name} holds an image over 512 MiB; it cannot be imported.")
    png = zip_file.read(info)
    if sha256_hex(png) != sha256:
        raise InvalidArchive(f"{member} in {name} is damaged (its hash differs); export again.")
    try:
        _png_size(png)
    except (OSError, ValueError):
        raise InvalidArchive(f"{member} in {name} is not a PNG image; export it again.") from None
    return png
