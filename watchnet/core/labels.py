"""Translated labels of the enums shown to users. Each enum's labels are registered next to the
enum, in the module that defines it (register_labels); these helpers read them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from flask_babel.speaklater import LazyString
from wtforms.fields.choices import SelectChoice

LABELS: dict[type[StrEnum], Mapping[str, LazyString]] = {}


def register_labels(enum_cls: type[StrEnum], labels: Mapping[str, LazyString]) -> None:
    """Record the labels of one enum (called beside the enum's definition); every member must
    have one, so a new member without a label fails at import, not on a page."""
    missing = {m.value for m in enum_cls} - set(labels)
    if missing:
        raise ValueError(f"{enum_cls.__name__} has no label for {sorted(missing)}")
    LABELS[enum_cls] = labels


def label(enum_cls: type[StrEnum], value: str | StrEnum | None) -> str:
    """The user-facing label of one enum value ("" for None)."""
    if value is None:
        return ""
    return str(LABELS[enum_cls].get(str(value), str(value)))


def select_choices(
    pairs: Iterable[tuple[Any, Any]], *, user_data: bool = False
) -> list[SelectChoice]:
    """(value, label) pairs as WTForms SelectChoice objects (WTForms 3.3 deprecates tuples).
    `user_data`: the labels are what people typed (district, team, supporter names); their
    options carry class user-text like all user data on a page (tests/walk checks the rest)."""
    render_kw = {"class": "user-text"} if user_data else {}
    return [
        SelectChoice(value=value, label=label, render_kw=dict(render_kw)) for value, label in pairs
    ]


def choices(enum_cls: type[StrEnum]) -> list[SelectChoice]:
    """A select field's options for an enum, in declaration order, with translated labels."""
    return select_choices((m.value, LABELS[enum_cls][m.value]) for m in enum_cls)
