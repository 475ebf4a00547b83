"""Insert once, catch the duplicate: rows with a client-chosen unique key (a phone's client_id,
a dedupe key) arrive twice when a slow phone retries or two workers race. The unique index
decides inside a savepoint, so the loser's transaction goes on and sees the winner."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from watchnet.core.extensions import Model, db

RowT = TypeVar("RowT", bound=Model)


def insert_once(row: Model) -> bool:
    """Add and flush the row in a savepoint; False (and nothing added) when a unique key says
    another transaction stored it first."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        return False
    return True


def insert_or_get(row: RowT, find: Callable[[], RowT | None]) -> tuple[RowT, bool]:
    """insert_once, returning (row, True), or (the stored winner, False) found by `find`. When
    `find` finds nothing the conflict was another constraint, and its error is raised."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        found = find()
        if found is None:
            raise
        return found, False
    return row, True
