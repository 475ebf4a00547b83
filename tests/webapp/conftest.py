"""Fixtures for the installable app: a VAPID key in the settings, phone-sized browser contexts
that keep service workers, and a desktop notification server for tapping notifications."""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from support import LiveServer, answer_tiles_offline

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
    "locale": "ja-JP",
    "timezone_id": "Asia/Tokyo",
}


def new_vapid_public_key() -> str:
    """A P-256 public key as browsers take it (base64url of the uncompressed point)."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    raw = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture()
def vapid_key(app: Flask, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """VAPID_PUBLIC_KEY in the settings of the test app and the live server. The push
    transport's start-up code generates one into the instance folder; these tests do not
    depend on it (a key made here, as a deployment could also set it)."""
    key = str(app.config.get("VAPID_PUBLIC_KEY") or new_vapid_public_key())
    monkeypatch.setitem(app.config, "VAPID_PUBLIC_KEY", key)
    monkeypatch.setitem(live_server.app.config, "VAPID_PUBLIC_KEY", key)
    return key


def _screenshot_on_failure(request: pytest.FixtureRequest, contexts: list[Any]) -> None:
    failed = getattr(request.node, "rep_call", None)
    if failed is None or not failed.failed:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    for i, context in enumerate(contexts):
        for j, page in enumerate(context.pages):
            with contextlib.suppress(Exception):  # a closed page has nothing to show
                page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{i}-{j}.png"))


@pytest.fixture()
def phone_context(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """phone_context(**options): a phone-sized context of the shared browser (tiles answered
    offline); every context starts without service workers or caches."""
    contexts: list[Any] = []

    def open_context(**options: Any) -> Any:
        context = browser.new_context(**{**PHONE, **options})
        answer_tiles_offline(context)
        contexts.append(context)
        return context

    yield open_context
    _screenshot_on_failure(request, contexts)
    for context in contexts:
        context.close()


@pytest.fixture()
def desktop() -> Iterator[Any]:
    """A session bus with a notification server on it (notification_support.py)."""
    from notification_support import NotificationServer, SessionBus, dbus_daemon_available

    if not dbus_daemon_available():
        pytest.skip("dbus-daemon is not installed (apt-get install dbus-daemon)")
    bus = SessionBus()
    server = NotificationServer(bus.address)
    server.bus_address = bus.address  # type: ignore[attr-defined]
    yield server
    server.stop()
    bus.stop()


@pytest.fixture()
def phone_with_desktop(
    browser: Any, desktop: Any, request: pytest.FixtureRequest
) -> Iterator[tuple[Any, Any]]:
    """(context, notifications): a persistent Chromium context (its own profile folder) whose
    notifications go to the desktop notification server, so they can be tapped. A second
    Chromium of the same Playwright as the shared `browser` (one Playwright per thread)."""
    with tempfile.TemporaryDirectory() as profile:
        context = browser.browser_type.launch_persistent_context(
            profile,
            executable_path=os.environ.get("WATCHNET_CHROMIUM", "/usr/bin/chromium"),
            args=[
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
            env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": desktop.bus_address},
            **PHONE,
        )
        answer_tiles_offline(context)
        try:
            yield context, desktop
        finally:
            _screenshot_on_failure(request, [context])
            context.close()
