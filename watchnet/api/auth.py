"""Bearer-token authentication for the JSON API, and loading rows the token may see.

The API never looks at the browser session: only `Authorization: Bearer <token>` counts. That
is why the API blueprints are exempt from CSRF — a forged cross-site request carries cookies,
never the bearer token.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import g, request
from flask_smorest import Blueprint, abort
from werkzeug.exceptions import Unauthorized

from watchnet.auth.access import ensure_district, get_in_district_or_404, visible_district_ids
from watchnet.auth.services import staff_from_api_token
from watchnet.core.extensions import db
from watchnet.people.models import StaffUser

SECURITY_SCHEME = "bearerAuth"
BEARER_SCHEME_DOC = {
    "type": "http",
    "scheme": "bearer",
    "description": "A staff member's API token, created on the account page "
    "(`Authorization: Bearer wn_...`). It sees only that staff member's districts.",
}
# Row ids are 32-bit or 64-bit integers; larger numbers in a URL are simply unknown ids.
MAX_ID = 2**31 - 1

M = TypeVar("M")


def _unauthorized() -> Unauthorized:
    exc = Unauthorized()
    # Read by watchnet.core.errors when it builds the JSON error body.
    exc.headers = {"WWW-Authenticate": 'Bearer realm="watchnet"'}  # type: ignore[attr-defined]
    return exc


def authenticate_bearer() -> None:
    """before_request of every API blueprint: a valid bearer token or 401."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    raw = raw.strip()
    if scheme.lower() != "bearer" or not raw or len(raw) > 200:
        raise _unauthorized()
    staff = staff_from_api_token(raw)
    if staff is None:
        db.session.rollback()
        raise _unauthorized()
    db.session.commit()  # keeps the token's last_used_at
    g.api_staff = staff
    # Make flask-login's current_user the token's owner for this request, so audit records
    # name the right actor and a session cookie sent along is never consulted.
    g._login_user = staff


def api_staff() -> StaffUser:
    """The staff member whose token authenticated this request."""
    staff: StaffUser = g.api_staff
    return staff


def actor() -> str:
    return f"staff:{api_staff().id}"


def load_or_404(model: type[M], obj_id: int) -> M:
    """A row in one of the token's districts, or 404 (unknown and foreign look the same)."""
    if obj_id > MAX_ID:
        abort(404)
    return get_in_district_or_404(api_staff(), model, obj_id)


def ensure_visible_district(district_id: int) -> None:
    """404 unless the token's owner works for the district."""
    if district_id > MAX_ID:
        abort(404)
    ensure_district(api_staff(), district_id)


def visible_ids() -> set[int]:
    return visible_district_ids(api_staff())


class ApiBlueprint(Blueprint):
    """A flask-smorest blueprint whose every operation needs a bearer token (and says so)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._prepare_security_doc)
        self.before_request(authenticate_bearer)

    @staticmethod
    def _prepare_security_doc(
        doc: dict[str, Any], doc_info: dict[str, Any], **_kwargs: Any
    ) -> dict[str, Any]:
        doc["security"] = [{SECURITY_SCHEME: []}]
        responses = doc.setdefault("responses", {})
        responses.setdefault("401", "UNAUTHORIZED")
        responses.setdefault("404", "NOT_FOUND")
        return doc
