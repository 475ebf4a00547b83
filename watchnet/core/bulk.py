"""Inserting thousands of rows at once, skipping those that already exist.

An alert tells thousands of supporters in one request: their AlertRecipient rows and outbox
rows are written with one INSERT ... ON CONFLICT DO NOTHING per chunk rather than an ORM flush
per row, and a retry (or a second process) adds nothing twice.

- PostgreSQL: the rows are streamed with COPY into a temporary staging table (dropped at
  commit), then moved with one INSERT ... SELECT ... ON CONFLICT DO NOTHING on the server. Measured
  here for 10,000 outbox rows of about 1 KB: 0.2 s, against 0.55 s with every column sent as
  one array parameter (INSERT ... SELECT unnest(...)) and 11 s with a multi-row VALUES list
  (tens of thousands of placeholders that psycopg re-parses on every execution).
- SQLite: SQLAlchemy's "insertmanyvalues" renders one multi-row VALUES INSERT per chunk from a
  cached statement.

Values shared by every row are bound once. RETURNING tells how many rows were new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import sqlalchemy as sa
from psycopg import sql as pgsql
from sqlalchemy.dialects import sqlite

from watchnet.core.extensions import db

CHUNK = 1000  # rows per statement (SQLite: up to 32 columns x 1000 stays under 32766 parameters)


def insert_ignoring_conflicts(
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    columns: Sequence[str],
    conflict: Sequence[str],
    shared: Mapping[str, Any] | None = None,
) -> int:
    """Insert `rows` (each with exactly `columns`) plus the `shared` values into `table`,
    skipping rows that collide on the unique `conflict` columns; returns how many were new.
    The caller commits."""
    shared = dict(shared or {})
    if not rows:
        return 0
    dialect = db.session.get_bind().dialect.name
    added = 0
    if dialect == "postgresql":
        return _copy_ignoring_conflicts(table, rows, columns, conflict, shared)
    stmt_lite = (
        sqlite.insert(table)
        .values(**shared)
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(table.c[list(table.primary_key.columns)[0].name])
    )
    for start in range(0, len(rows), CHUNK):
        chunk = [{name: row[name] for name in columns} for row in rows[start : start + CHUNK]]
        added += len(
            db.session.execute(
                stmt_lite, chunk, execution_options={"insertmanyvalues_page_size": CHUNK}
            ).all()
        )
    return added


def _copy_ignoring_conflicts(
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    conflict: Sequence[str],
    shared: Mapping[str, Any],
) -> int:
    """PostgreSQL: COPY into a staging table, then INSERT ... SELECT ... ON CONFLICT DO NOTHING,
    on the session's own connection, so it all belongs to the caller's transaction."""
    names = [*columns, *shared]
    stage = f"_bulk_stage_{table.name}"
    cols = pgsql.SQL(", ").join(pgsql.Identifier(n) for n in names)
    db.session.flush()  # what the ORM holds goes first, as session.execute would autoflush
    raw = db.session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        # A second call in the same transaction finds the first one's staging table.
        cur.execute(pgsql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(pgsql.Identifier(stage)))
        cur.execute(
            pgsql.SQL(
                "CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS SELECT {cols} FROM {table} "
                "WITH NO DATA"
            ).format(stage=pgsql.Identifier(stage), cols=cols, table=pgsql.Identifier(table.name))
        )
        tail = [_plain(shared[name]) for name in shared]
        copy_sql = pgsql.SQL("COPY {stage} ({cols}) FROM STDIN").format(
            stage=pgsql.Identifier(stage), cols=cols
        )
        with cur.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row([_plain(row[name]) for name in columns] + tail)
        cur.execute(
            pgsql.SQL(
                "INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} "
                "ON CONFLICT ({conflict}) DO NOTHING"
            ).format(
                table=pgsql.Identifier(table.name),
                cols=cols,
                stage=pgsql.Identifier(stage),
                conflict=pgsql.SQL(", ").join(pgsql.Identifier(n) for n in conflict),
            )
        )
        inserted: int = cur.rowcount
        return max(inserted, 0)


def _plain(value: Any) -> Any:
    # Enum members go as their stored value; anything else as it is.
    return value.value if isinstance(value, Enum) else value
