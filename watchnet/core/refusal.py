"""One way to show a service's refusal (a UserInputError): on a page form, or as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response

from watchnet.core.errors import UserInputError, json_error
from watchnet.core.extensions import db


def refuse_form(
    form: Any,
    exc: UserInputError,
    aliases: Mapping[str, str] | None = None,
    fallback: str | None = None,
) -> None:
    """Show the refusal next to the field it names (a service's field name may be mapped to the
    form's by `aliases`), else next to `fallback`, else above the form (form_errors), and roll
    back so that nothing the service wrote is kept. The caller answers 400/422 with the page."""
    db.session.rollback()
    name = exc.field or ""
    if aliases:
        name = aliases.get(name, name)
    fields = getattr(form, "_fields", {})
    field = fields.get(name) if name else None
    if field is None and fallback:
        field = fields.get(fallback)
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, str(exc)]
    else:
        form.form_errors.append(str(exc))


def refuse_json(exc: UserInputError, code: int = 422) -> tuple[Response, int]:
    """The refusal as the scripts' JSON error ({"code", "message", "errors": {field: [...]}},
    field "_" when the rule names none), after rolling back what the service wrote."""
    db.session.rollback()
    return json_error(code, str(exc), {exc.field or "_": [str(exc)]})
