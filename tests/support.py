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


def browser_login(page: Any, server: LiveServer, user: Any) -> None:
    """Log in through the login page in the browser."""
    page.goto(f"{server.url}/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_load_state("networkidle")


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
