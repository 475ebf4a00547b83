"""District pages: landmarks."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("districts", __name__, url_prefix="/districts")
