"""The supporter's alert page (personal link) and its JSON actions."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("alert_field", __name__)
