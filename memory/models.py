"""The tables of the session store, as SQLAlchemy 2.x typed ORM classes.

A session owns a tree of nodes; each node is one image state. `sessions.root_id` points
at the upload, `sessions.head_id` at the image the person is looking at, and
`nodes.redo_child_id` at the child that redo goes to when no view says otherwise. `views`
links the images the person was shown, each to the one before it, which undo and redo walk;
`sessions.view_id` is the view of the head. Image bytes live in a blob store
(`memory.blobs`), keyed by `nodes.image_sha256`, and so do edit masks (`nodes.mask_sha256`).
Schema changes go through Alembic (`memory/migrations`), never through `create_all`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite drops the zone on the way in)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utc_now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class SessionRow(Base):
    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    # NULL only inside `create_session`, between adding the session and its first node.
    root_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", use_alter=True), nullable=True)
    head_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", use_alter=True), nullable=True)
    # The head's view. Not a foreign key, so that migration 0003 could add it to an existing
    # SQLite table without rebuilding it (a rebuild would cascade-delete every node).
    view_id: Mapped[int | None]
    # Bumped by every UPDATE; an update from a stale copy fails instead of overwriting.
    version: Mapped[int] = mapped_column()

    __mapper_args__ = {"version_id_col": version}


class NodeRow(Base):
    __tablename__ = "nodes"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"))
    redo_child_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"))
    image_sha256: Mapped[str] = mapped_column(String(64), index=True)
    # The edit mask (white = changed), a blob like the image; None at the root and on
    # nodes made before masks were kept.
    mask_sha256: Mapped[str | None] = mapped_column(String(64))
    width: Mapped[int]
    height: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # How the image was made (the fields of memory.store.EditParams).
    chat_text: Mapped[str] = mapped_column(Text)
    instruction: Mapped[str] = mapped_column(Text)
    text_scale: Mapped[float | None] = mapped_column(Float)
    image_scale: Mapped[float | None] = mapped_column(Float)
    seed: Mapped[int | None] = mapped_column(BigInteger)
    steps: Mapped[int | None]
    scheduler: Mapped[str | None] = mapped_column(String(100))
    model_id: Mapped[str | None] = mapped_column(String(300))
    metrics: Mapped[dict[str, Any]]
    timings: Mapped[dict[str, Any]]


class MessageRow(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    node_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class ViewRow(Base):
    """One time an image was shown to the person (by an edit, a revert, a reset, ...): undo
    goes from it to `back_id`, the image shown before, and redo to `forward_id`."""

    __tablename__ = "views"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"))
    back_id: Mapped[int | None] = mapped_column(ForeignKey("views.id"))
    forward_id: Mapped[int | None] = mapped_column(ForeignKey("views.id"))


class BlobRow(Base):
    """Image bytes kept in the database, for deployments that share nothing but it."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
