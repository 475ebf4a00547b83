"""On a 360 px phone in headless Chromium: the supporter's page shows the LINE steps in large
type, the add-friend QR code and, at a tap, the code; once LINE sent the code (a signed
webhook event) the page says linked, and 「LINE連携を解除」 unlinks after asking."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from notifications.line_support import FRIEND_URL, SECRET, new_user_id, post_events

from watchnet.auth.services import make_signin_token

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture()
def phone_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        locale="ja-JP",
        timezone_id="Asia/Tokyo",
    )
    page = context.new_page()
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture()
def live_line(live_server: Any, line_on: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The live server with the LINE settings of the test app (line_on: the stand-in)."""
    for key in ("LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN", "LINE_API_BASE"):
        monkeypatch.setitem(live_server.app.config, key, line_on_app_config(key))
    monkeypatch.setitem(live_server.app.config, "LINE_ADD_FRIEND_URL", FRIEND_URL)
    return live_server


def line_on_app_config(key: str) -> Any:
    from flask import current_app

    return current_app.config[key]  # the test app's, set by line_on


def assert_accessible(page: Any) -> None:
    """axe finds nothing serious or critical on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    serious = [
        v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")
    ]
    assert serious == [], [(v["id"], [n["target"] for n in v["nodes"]]) for v in serious]


@pytest.mark.browser
def test_a_supporter_links_line_from_their_phone_page(
    live_line, line_on, phone_page, supporter, client
):
    page = phone_page
    page.goto(f"{live_line.url}/s/{make_signin_token(supporter)}")
    page.goto(f"{live_line.url}/me")
    section = page.locator("section#line")
    assert "LINEはまだ連携していません。" in section.inner_text()
    assert section.locator(f'a[href="{FRIEND_URL}"]').is_visible()
    assert section.locator(".line-qr svg").bounding_box()["width"] >= 150  # readable QR code

    page.get_by_role("button", name="LINE連携のコードを表示").click()
    code_box = page.locator("[data-line-code]")
    code_box.wait_for()
    code = code_box.inner_text()
    assert re.fullmatch(r"\d{3} \d{3}", code)
    assert float(code_box.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 36
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert_accessible(page)

    user = new_user_id()
    post_events(client, SECRET, line_on.follow(user), line_on.text(user, code))
    page.reload()
    assert page.locator('[data-line-state="linked"]').is_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="LINE連携を解除").click()
    page.locator('[data-line-state="not-linked"]').wait_for()
    assert "LINE連携を解除しました" in page.content()
