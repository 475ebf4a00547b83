"""Supporter pages (staff side) and the supporter's own page."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("people", __name__)
