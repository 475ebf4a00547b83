"""Exports of an alert: CAP 1.2, GeoJSON, printable flyer."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("alert_exports", __name__)
