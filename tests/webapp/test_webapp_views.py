"""The installable app over HTTP: the manifest and its icons, the service worker's code and
settings, the shell it stores (every asset the supporter pages load), and which answers the
worker may keep for use without network (only the supporter pages, never JSON or photos)."""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "alerts"))
from alert_field_support import start_field_alert  # noqa: E402
from support import signin_supporter  # noqa: E402

from watchnet.alerts.models import AlertStatus  # noqa: E402
from watchnet.alerts.services import close_alert  # noqa: E402
from watchnet.auth.services import revoke_signin_token  # noqa: E402
from watchnet.core.extensions import db  # noqa: E402
from watchnet.core.webapp import OFFLINE_HEADER  # noqa: E402
from watchnet.drills.models import DrillStatus, Participant  # noqa: E402

STATIC = Path(__file__).resolve().parents[2] / "static"


@dataclass
class Phone:
    client: FlaskClient
    supporter: Any
    drill_id: int
    alert_url: str
    photo_id: int
    fa: Any


@pytest.fixture()
def phone(
    app: Flask,
    district: Any,
    coordinator: Any,
    make_supporter: Any,
    make_drill: Any,
    vapid_key: str,
) -> Phone:
    """A supporter told of an active alert (with a shared photo) and taking part in a live
    drill, signed in on a phone."""
    fa = start_field_alert(district, coordinator, make_supporter, supporters=1)
    supporter = fa.recipients[0].supporter
    drill = make_drill(
        district, status=DrillStatus.live, starts_at=datetime.now(UTC) - timedelta(minutes=5)
    )
    db.session.add(Participant(drill_id=drill.id, supporter_id=supporter.id))
    db.session.commit()
    client = signin_supporter(app.test_client(), supporter)
    return Phone(client, supporter, drill.id, fa.url, fa.photo.id, fa)


def _manifest(client: FlaskClient, query: str = "") -> dict[str, Any]:
    response = client.get("/manifest.webmanifest" + query)
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    return dict(json.loads(response.get_data(as_text=True)))


def test_the_manifest_makes_an_installable_app_that_starts_at_the_supporters_home(
    client: FlaskClient,
) -> None:
    manifest = _manifest(client)
    assert manifest["name"] == "watchnet 見守りサポーター"
    assert manifest["short_name"] == "見守りネット"
    assert manifest["lang"] == "ja"
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == "/me"
    assert manifest["id"] == "/me"
    assert manifest["scope"] == "/"
    assert manifest["theme_color"] == "#123b5e"
    assert manifest["background_color"] == "#fafaf7"
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("192x192", "maskable")} <= sizes
    assert ("512x512", "maskable") in sizes


def test_every_icon_is_a_real_png_of_the_size_the_manifest_states(client: FlaskClient) -> None:
    for icon in _manifest(client)["icons"]:
        response = client.get(icon["src"])
        assert response.status_code == 200, icon
        assert response.mimetype == "image/png"
        image = Image.open(io.BytesIO(response.data))
        assert image.format == "PNG"
        assert f"{image.width}x{image.height}" == icon["sizes"]
        if icon["purpose"] == "maskable":
            # Full bleed: the launcher's mask may cut any corner, so none is transparent.
            assert image.convert("RGBA").getpixel((0, 0))[3] == 255


def test_the_iphone_icon_is_180_px_without_transparency(client: FlaskClient) -> None:
    image = Image.open(io.BytesIO(client.get("/static/icons/apple-touch-icon.png").data))
    assert (image.format, image.size, image.mode) == ("PNG", (180, 180), "RGB")
    badge = Image.open(io.BytesIO(client.get("/static/icons/badge-96.png").data))
    assert badge.size == (96, 96) and badge.mode == "RGBA"


def test_the_manifest_speaks_the_language_of_the_page_that_links_it(client: FlaskClient) -> None:
    english = _manifest(client, "?lang=en")
    assert english["name"] == "watchnet for supporters"
    assert english["lang"] == "en"
    assert english["id"] == _manifest(client)["id"]  # the same app in both languages
    assert _manifest(client, "?lang=xx")["lang"] == "ja"


def _worker(client: FlaskClient) -> tuple[dict[str, Any], str]:
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    text = response.get_data(as_text=True)
    match = re.match(r"self\.WATCHNET_SW = (\{.*?\});\n", text)
    assert match, text[:200]
    return json.loads(match.group(1)), text


def test_the_worker_is_served_at_the_root_with_its_settings(client: FlaskClient) -> None:
    config, code = _worker(client)
    assert config["home_url"] == "/me"
    assert config["offline_url"] == "/offline"
    assert config["signin_prefix"] == "/s/"
    assert config["pages"] == [
        {"path": "/me", "exact": True},
        {"path": "/field/", "exact": False},
        {"path": "/a/", "exact": False},
    ]
    assert re.fullmatch(r"[0-9a-f]{16}", config["version"])
    assert config["strings"]["title"] == "watchnet"
    assert 'addEventListener("push"' in code and "notificationclick" in code
    # Every file of the shell answers, so installing the worker cannot fail on a missing one.
    for url in config["shell"]:
        assert client.get(url).status_code == 200, url


def test_the_shell_holds_every_script_stylesheet_and_icon_the_supporter_pages_load(
    phone: Phone,
) -> None:
    config, _code = _worker(phone.client)
    shell = set(config["shell"])
    pages = {
        "/me": phone.client.get("/me"),
        "field": phone.client.get(f"/field/drills/{phone.drill_id}"),
        "alert": phone.client.get(phone.alert_url),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        html = response.get_data(as_text=True)
        assets = set(re.findall(r'<script[^>]+src="([^"]+)"', html))
        assets |= set(
            re.findall(
                r'<link[^>]+rel="(?:stylesheet|icon|apple-touch-icon)"[^>]*'
                r'href="([^"]+)"',
                html,
            )
        )
        scripts = [a for a in assets if a.endswith(".js") and a.startswith("/static/")]
        assets |= set(_imports(scripts))
        missing = sorted(a for a in assets if a not in shell)
        assert not missing, f"{name} loads what the worker does not keep: {missing}"


def _imports(scripts: list[str]) -> Iterator[str]:
    """Every module the scripts import, followed through the imports (static/js only)."""
    seen: set[str] = set()
    todo = list(scripts)
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        path = STATIC / url.removeprefix("/static/")
        for target in re.findall(r'^import\b[^;]*?from\s+"(\.[^"]+)"', path.read_text(), re.M):
            resolved = "/static/" + str(
                (path.parent / target).resolve().relative_to(STATIC.resolve())
            )
            todo.append(resolved)
            yield resolved


def test_supporter_pages_link_the_manifest_and_the_worker_and_may_be_kept_offline(
    phone: Phone,
) -> None:
    for url in ("/me", f"/field/drills/{phone.drill_id}", phone.alert_url):
        response = phone.client.get(url)
        assert response.status_code == 200
        assert response.headers[OFFLINE_HEADER] == "max-age=86400", url
        html = response.get_data(as_text=True)
        assert '<link rel="manifest" href="/manifest.webmanifest?lang=ja">' in html
        assert '<meta name="watchnet-worker" content="/sw.js" data-scope="/">' in html
        assert 'src="/static/js/webapp.js"' in html
        csp = response.headers["Content-Security-Policy"]
        assert "worker-src 'self'" in csp and "manifest-src 'self'" in csp
    # The alert page stays out of every HTTP cache: only the supporter's own worker keeps it.
    assert phone.client.get(phone.alert_url).headers["Cache-Control"] == "no-store, private"


def test_nothing_else_may_be_kept_offline_json_photos_and_closed_or_refused_pages(
    phone: Phone, coordinator: Any
) -> None:
    token = phone.fa.token
    answers = [
        phone.client.get(f"/a/{token}/state"),
        phone.client.get(f"/a/{token}/photos/{phone.photo_id}"),
        phone.client.get(f"/field/drills/{phone.drill_id}/steps"),
        phone.client.get("/field/drills/999999"),  # not theirs: 404
        phone.client.get("/offline"),
        phone.client.get("/manifest.webmanifest"),
    ]
    for response in answers:
        assert OFFLINE_HEADER not in response.headers, response.request.path
    close_alert(phone.fa.alert, outcome=AlertStatus.found, actor="test")
    db.session.commit()
    closed = phone.client.get(phone.alert_url)
    assert closed.status_code == 200 and OFFLINE_HEADER not in closed.headers
    revoke_signin_token(phone.supporter)
    db.session.commit()
    for url in ("/me", f"/field/drills/{phone.drill_id}", phone.alert_url):
        refused = phone.client.get(url)
        assert refused.status_code == 403, url
        assert OFFLINE_HEADER not in refused.headers


def test_the_offline_page_names_nobody_and_carries_no_token(phone: Phone) -> None:
    response = phone.client.get("/offline")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "接続がありません" in html
    assert phone.supporter.name not in html
    assert "csrf" not in html.lower()
    assert "/a/" not in html
