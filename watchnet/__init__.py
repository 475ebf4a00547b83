"""watchnet: walking drills and missing-elder alerts for community watch networks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

_PACKAGE_DIR = Path(__file__).resolve().parent


def _asset_dir(name: str) -> str:
    # A wheel carries templates/ and static/ inside the package; an editable install leaves
    # them at the project root beside the package.
    inside = _PACKAGE_DIR / name
    return str(inside if inside.is_dir() else _PACKAGE_DIR.parent / name)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the WSGI application. Starts no threads, schedulers or background work."""
    from watchnet import web
    from watchnet.core.config import build_config

    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=_asset_dir("templates"),
        static_folder=_asset_dir("static"),
        instance_path=os.environ.get("WATCHNET_INSTANCE_PATH") or None,
    )
    app.config.update(build_config(Path(app.instance_path), test_config))
    web.init_app(app)
    return app
