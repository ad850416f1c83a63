"""Opening the store's database: engine settings per backend, and schema upgrades on open."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from .errors import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration's revision (tests/test_store.py checks it against Alembic's head): a
# database already there is opened without loading Alembic, which takes a fifth of a second.
HEAD_REVISION = "0003"
# Any fixed number works: it names the PostgreSQL lock that serialises schema upgrades.
UPGRADE_LOCK_ID = 7_233_318_801


def open_database(url: str, lock_timeout: float) -> Engine:
    """An engine for `url` with the schema upgraded to the newest migration.

    Write transactions ask for `execution_options(write=True)`; on SQLite they take the
    write lock when they begin (BEGIN IMMEDIATE) and wait up to `lock_timeout` seconds for
    it, so two writers queue instead of one failing half-way through.
    """
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            engine = _sqlite_engine(parsed, lock_timeout)
        else:
            engine = create_engine(parsed, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ModuleNotFoundError) as error:
        raise StoreError(
            f"{url!r} is not a database URL pixchat can use ({error}); give a SQLAlchemy URL "
            "such as sqlite:///pixchat.db or postgresql+psycopg://user@host/db."
        ) from None
    except OSError as error:  # the SQLite file's folder could not be made
        raise StoreError(
            f"Cannot make the folder for {url} ({error.strerror}); choose a writable --data "
            "folder or --db."
        ) from None
    try:
        upgrade_schema(engine)
    except SQLAlchemyError as error:
        engine.dispose()
        shown = parsed.render_as_string(hide_password=True)
        folder = Path(parsed.database or ".").expanduser().parent
        if parsed.get_backend_name() == "sqlite" and not os.access(folder, os.W_OK):
            raise StoreError(
                f"Cannot open the database {shown} ({reason(error)}): its folder {folder} is "
                "read-only; make it writable, or choose another --data folder."
            ) from None
        raise StoreError(
            f"Cannot open the database {shown} ({reason(error)}); check --db or PIXCHAT_DB."
        ) from None
    return engine


def reason(error: SQLAlchemyError) -> str:
    """The first line of the driver's own message: what went wrong, without the SQL."""
    return str(getattr(error, "orig", None) or error).strip().splitlines()[0]


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`, by default the newest (a no-op when it is there)."""
    if revision == "head" and current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.execution_options(write=True).begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two app instances starting at once must not both create the tables.
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": UPGRADE_LOCK_ID})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The database's Alembic revision, or None for an empty database."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _sqlite_engine(url: URL, lock_timeout: float) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": lock_timeout})

    @event.listens_for(engine, "connect")
    def configure(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun by `begin` below
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL never corrupts and never loses a commit to a crashed or killed
        # process; only a power cut can drop the last commits. It saves an fsync per write.
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def begin(connection) -> None:
        write = connection.get_execution_options().get("write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
