"""Alembic environment of the session store.

The store runs the migrations itself when it opens a database (`memory.database`), handing
its connection over in `config.attributes`. A developer adding a migration runs
`alembic -c memory/alembic.ini revision --autogenerate -m "what changed"` against the
database named by PIXCHAT_DB (default: the SQLite file in the data folder), after
`alembic -c memory/alembic.ini upgrade head` brought it to the newest revision.
"""

from alembic import context

from memory.models import Base


def run_migrations(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite can only change a table by rebuilding it
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    from sqlalchemy import create_engine

    from memory.store import default_data_dir, default_url

    with create_engine(default_url(default_data_dir())).connect() as developer_connection:
        run_migrations(developer_connection)
