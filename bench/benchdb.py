"""What both benchmarks share: a fresh PostgreSQL database of their own for each run."""

from __future__ import annotations

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
# The maintenance database: the one called `test` may belong to a running test suite.
PG_ADMIN_URL = f"{PG_SERVER}/postgres"


def prepare_database(db: str, env: dict[str, str], name: str) -> None:
    """For PostgreSQL, drop and create the database `name` and point DATABASE_URL at it;
    SQLite needs nothing (the app makes its file in the instance folder)."""
    if db != "postgresql":
        return
    import sqlalchemy as sa

    admin = sa.create_engine(
        PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    env["DATABASE_URL"] = f"{PG_SERVER}/{name}"
