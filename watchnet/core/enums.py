"""Helpers for storing StrEnums as plain strings on every database."""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa


def enum_column_type(enum_cls: type[StrEnum]) -> sa.Enum:
    """A VARCHAR column holding the enum's values (no native type, so migrations stay simple)."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )
