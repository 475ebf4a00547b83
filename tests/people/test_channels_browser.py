"""On a 360 × 740 phone in headless Chromium: the channels page is large and fits, and
「テスト通知を送る」 shows within seconds, per channel, what arrived and what did not, through
the real dispatcher to local stand-ins."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from channels_support import running_dispatcher

from tests.notifications.push_support import PushServiceStandIn
from watchnet.auth.services import make_signin_token
from watchnet.core.extensions import db
from watchnet.people.models import NotificationAddress, PushSubscription

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
    # Anything the page failed to load or run (the browser's own favicon request aside).
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    page.errors = errors
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def _assert_accessible(page: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    serious = [
        v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")
    ]
    assert serious == [], [(v["id"], [n["target"] for n in v["nodes"]]) for v in serious]


@pytest.fixture()
def push_service() -> Iterator[PushServiceStandIn]:
    with PushServiceStandIn() as service:
        yield service


@pytest.mark.browser
def test_a_test_notification_shows_per_channel_results_within_seconds(
    app, live_server, phone_page, smtp_sink, webhook_sink, push_service, supporter
):
    webhook_sink.fail_with["/gone"] = 410
    device = push_service.subscribe(application_server_key=app.config["VAPID_PUBLIC_KEY"])
    keys = device.to_json()["keys"]
    db.session.add_all(
        [
            PushSubscription(
                supporter_id=supporter.id,
                endpoint=device.endpoint,
                p256dh=keys["p256dh"],
                auth=keys["auth"],
                label="Android Chrome",
            ),
            NotificationAddress(
                supporter_id=supporter.id, url=webhook_sink.url("/ok"), label="町内会"
            ),
            NotificationAddress(
                supporter_id=supporter.id, url=webhook_sink.url("/gone"), label="旧システム"
            ),
        ]
    )
    db.session.commit()
    page = phone_page
    page.goto(f"{live_server.url}/s/{make_signin_token(supporter)}")
    page.goto(f"{live_server.url}/me")
    page.click("#open-channels")
    page.wait_for_url("**/me/channels")

    # Large type, big buttons, nothing wider than the phone.
    assert page.evaluate("document.documentElement.lang") == "ja"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 18
    button = page.locator("#send-test")
    box = button.bounding_box()
    assert box is not None and box["height"] >= 56 and box["width"] >= 260
    assert "1分に1回" in page.inner_text("#test-limit")
    _assert_accessible(page)

    with running_dispatcher(app):
        started = time.monotonic()
        button.click()
        page.wait_for_url("**/me/channels?test=*")
        page.wait_for_function(
            """() => {
                const items = [...document.querySelectorAll('#test-results li')];
                return items.length === 4 && items.every((li) =>
                    li.dataset.state === 'sent' || li.dataset.state === 'failed');
            }""",
            timeout=15000,
        )
        took_s = time.monotonic() - started
    results = page.locator("#test-results li")
    texts = {
        results.nth(i).get_attribute("data-ref"): results.nth(i).inner_text() for i in range(4)
    }
    assert "届きました" in texts["email"] and supporter.email in texts["email"]
    push = next(t for ref, t in texts.items() if ref.startswith("push:"))
    assert "届きました" in push and "Android Chrome" in push
    ok = next(t for t in texts.values() if "町内会" in t)
    gone = next(t for t in texts.values() if "旧システム" in t)
    assert "届きました" in ok
    assert "届きませんでした" in gone and "使えなくなったため" in gone and "HTTP" not in gone
    assert page.inner_text("#test-summary") == "テストが終わりました。"
    assert took_s < 10, took_s
    print(f"test notification: every channel answered on the page {took_s:.1f} s after the tap")
    # What the page says matches what the stand-ins received.
    assert len(smtp_sink.to(supporter.email)) == 1
    assert len(webhook_sink.to("/ok")) == 1
    (pushed,) = push_service.wait_for(1)
    assert pushed.payload["url"].endswith("/me/channels?via=push")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    _assert_accessible(page)
    assert page.errors == []


@pytest.mark.browser
def test_a_double_tap_sends_one_test(app, live_server, phone_page, smtp_sink, supporter):
    page = phone_page
    page.goto(f"{live_server.url}/s/{make_signin_token(supporter)}")
    page.goto(f"{live_server.url}/me/channels")
    page.locator("#send-test").dblclick()
    page.wait_for_url("**/me/channels?test=*")
    with running_dispatcher(app):
        page.wait_for_selector("#test-results li[data-state=sent]", timeout=15000)
    assert len(smtp_sink.to(supporter.email)) == 1
    # A second press within the minute is refused, and the page says when to try again.
    page.click("#send-test")
    page.wait_for_selector("#test-error")
    assert "秒後に送れます" in page.inner_text("#test-error")


@pytest.mark.browser
def test_notifications_are_turned_on_from_the_channels_page_too(live_server, phone_page, supporter):
    from tests.webapp.test_webapp_browser import FAKE_PUSH_MANAGER

    page = phone_page
    page.context.grant_permissions(["notifications"], origin=live_server.url)
    page.context.add_init_script(FAKE_PUSH_MANAGER)
    page.goto(f"{live_server.url}/s/{make_signin_token(supporter)}")
    page.goto(f"{live_server.url}/me/channels")
    page.wait_for_selector("#notify-status[data-state='off']")
    page.get_by_role("button", name="通知をオンにする").click()
    page.wait_for_selector("#notify-status[data-state='on']")
    page.reload()
    page.wait_for_selector("#notify-status[data-state='on']")
    # The page lists the phone with the others, in plain words.
    device = page.locator("#push-devices li")
    assert device.count() == 1 and "オン" in device.inner_text()
    summary = page.locator("#channel-summary li[data-channel='push']")
    assert "スマートフォンへの通知" in summary.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.errors == []
