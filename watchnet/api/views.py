"""The JSON API (flask-smorest): drills, checkpoints, landmarks, supporters."""

from __future__ import annotations

from flask_smorest import Api


def register_api(api: Api) -> None:
    """Register every API blueprint on the Api."""
