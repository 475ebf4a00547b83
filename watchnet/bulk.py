"""Inserting thousands of rows at once, skipping those that already exist.

An alert tells thousands of supporters in one request: their AlertRecipient rows and outbox
rows are written with one INSERT ... ON CONFLICT DO NOTHING per chunk rather than an ORM flush
per row, and a retry (or a second process) adds nothing twice.

- PostgreSQL: each column travels as one array parameter and the rows are unnested on the
  server (INSERT ... SELECT unnest(...)). A multi-row VALUES list would have tens of thousands
  of placeholders, which psycopg re-parses on every execution.
- SQLite: SQLAlchemy's "insertmanyvalues" renders one multi-row VALUES INSERT per chunk from a
  cached statement.

Values shared by every row are bound once. RETURNING tells how many rows were new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from watchnet.extensions import db

CHUNK = 1000  # rows per statement (SQLite: 15 columns x 1000 stays under 32766 parameters)


def _array_type(column: sa.Column[Any]) -> Any:
    # Enums are stored as plain strings (native_enum=False): send them as text.
    if isinstance(column.type, sa.Enum):
        return postgresql.ARRAY(sa.Text())
    return postgresql.ARRAY(column.type)


def insert_ignoring_conflicts(table: sa.Table, rows: Sequence[Mapping[str, Any]], *,
                              columns: Sequence[str], conflict: Sequence[str],
                              shared: Mapping[str, Any] | None = None) -> int:
    """Insert `rows` (each with exactly `columns`) plus the `shared` values into `table`,
    skipping rows that collide on the unique `conflict` columns; returns how many were new.
    The caller commits."""
    shared = dict(shared or {})
    if not rows:
        return 0
    dialect = db.session.get_bind().dialect.name
    added = 0
    if dialect == "postgresql":
        targets = [table.c[name] for name in columns]
        select = sa.select(
            *[sa.func.unnest(sa.bindparam(f"_bulk_{c.name}", type_=_array_type(c)))
              for c in targets],
            *[sa.literal(value, table.c[name].type) for name, value in shared.items()],
        )
        stmt = (postgresql.insert(table)
                .from_select([*columns, *shared], select)
                .on_conflict_do_nothing(index_elements=list(conflict))
                .returning(table.c[list(table.primary_key.columns)[0].name]))
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            params = {f"_bulk_{name}": [_plain(row[name]) for row in chunk] for name in columns}
            added += len(db.session.execute(stmt, params).all())
        return added
    stmt_lite = (sqlite.insert(table).values(**shared)
                 .on_conflict_do_nothing(index_elements=list(conflict))
                 .returning(table.c[list(table.primary_key.columns)[0].name]))
    for start in range(0, len(rows), CHUNK):
        chunk = [{name: row[name] for name in columns} for row in rows[start:start + CHUNK]]
        added += len(db.session.execute(
            stmt_lite, chunk, execution_options={"insertmanyvalues_page_size": CHUNK}).all())
    return added


def _plain(value: Any) -> Any:
    # Enum members go as their stored value; anything else as it is.
    return value.value if isinstance(value, Enum) else value
