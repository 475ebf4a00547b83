"""Helpers shared by the tests (plain functions and classes; fixtures live in conftest.py).

Import them as `from support import ...`: every conftest.py outside a package is a module
named "conftest", so `import conftest` can reach the wrong one.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

PASSWORD = "correct horse battery"


def login(client: FlaskClient, user: Any) -> FlaskClient:
    """Log a staff member in through the real login form."""
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def signin_supporter(client: FlaskClient, supporter: Any) -> FlaskClient:
    """Sign a supporter's phone in through their personal link."""
    from watchnet.auth.services import make_signin_token

    response = client.get(f"/s/{make_signin_token(supporter)}")
    assert response.status_code == 302
    return client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


def session_cookie_value(app: Flask, user: Any) -> str:
    """The signed session cookie that logging `user` in on `app` would set (Flask-Login's
    login_user in a request context, signed with the app's secret key like a response)."""
    from flask import session
    from flask_login import login_user

    with app.test_request_context("/login", method="POST"):
        login_user(user)
        serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        assert serializer is not None, "the app has no SECRET_KEY"
        return str(serializer.dumps(dict(session)))


def browser_login(page: Any, server: LiveServer, user: Any) -> None:
    """Log a staff member in by giving the browser their session cookie, without the form.

    The login form itself is driven in a browser by
    tests/drills/test_drill_route_editor_browser.py (and over HTTP by tests/auth); here it
    would cost three page loads per test. The page stays where it was: go to a page next.
    """
    page.context.add_cookies(
        [
            {
                "name": server.app.config["SESSION_COOKIE_NAME"],
                "value": session_cookie_value(server.app, user),
                "url": server.url,
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )


def blank_png() -> bytes:
    """A valid 1×1 transparent PNG: what browser tests answer for map tiles (no network)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00\x00\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def answer_tiles_offline(target: Any) -> None:
    """Serve every GSI tile request of a page or context with a blank PNG."""
    import re

    png = blank_png()
    target.route(
        re.compile(r"https://cyberjapandata\.gsi\.go\.jp/.*"),
        lambda route: route.fulfill(status=200, body=png, content_type="image/png"),
    )


def wait_for_page_drawn(page: Any) -> None:
    """Wait until the page has loaded, every image on it is complete and every Leaflet map
    with a tile layer has its tiles: what a screenshot, PDF or axe run of the page needs
    (instead of networkidle, which waits for 500 ms without a request on every page)."""
    page.wait_for_function(
        """() => document.readyState === 'complete'
            && [...document.images].every((img) => img.complete)
            && [...document.querySelectorAll('.leaflet-container')].every((map) =>
                map.querySelectorAll('.leaflet-tile-container').length === 0
                || map.querySelector('img.leaflet-tile') !== null)"""
    )
