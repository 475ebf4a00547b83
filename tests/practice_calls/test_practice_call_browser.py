"""Practice calls in headless Chromium: an organizer sends one from the drill page through the
confirmation, and a supporter opens the personal page on a 360 × 740 phone — the page reports
the opening with the link's channel (which stops the next step of the chain), shows
「受け取りました」, and takes 「参加できます」 with a tap."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from practice_support import PRACTICE_CHAINS, add_participants, deliver_all, deliveries_of
from support import answer_tiles_offline, browser_login

from watchnet.core.extensions import db
from watchnet.notifications.hooks import Answer
from watchnet.notifications.models import Delivery, DeliveryStatus
from watchnet.practice_calls import services
from watchnet.practice_calls.models import PracticeAudience, PracticeCall, PracticeCallRecipient

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def wait_until(predicate: Callable[[], Any], timeout_s: float = 10.0, what: str = "") -> Any:
    """Poll the database (written by the live server) until the predicate holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        db.session.expire_all()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.05)


def assert_accessible(page: Any) -> None:
    """axe finds nothing serious or critical on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    serious = [
        v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")
    ]
    assert serious == [], [(v["id"], [n["target"] for n in v["nodes"]]) for v in serious]


def console_errors(page: Any) -> list[str]:
    """Script errors and CSP violations of the page (a missing favicon is neither)."""
    found: list[str] = []

    def keep(message: Any) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            found.append(message.text)

    page.on("console", keep)
    page.on("pageerror", lambda exc: found.append(str(exc)))
    return found


@pytest.fixture()
def server_chain(live_server: Any) -> Iterator[None]:
    """The live server's practice calls go e-mail first, then the webhook (as in the tests'
    app)."""
    config = live_server.app.config
    previous = config["CHANNEL_CHAINS"], config["ESCALATION_STEPS"]
    config.update(CHANNEL_CHAINS=PRACTICE_CHAINS, ESCALATION_STEPS=["practice_call=5"])
    yield
    config.update(CHANNEL_CHAINS=previous[0], ESCALATION_STEPS=previous[1])


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


def test_an_organizer_sends_a_practice_call_from_the_drill_page(
    page, live_server, district, organizer, make_supporter, make_drill, server_chain
):
    drill = make_drill(district, title="第2回 まち歩き見守り声掛け訓練")
    add_participants(drill, [make_supporter(district), make_supporter(district)])
    make_supporter(district)  # in the district, not in the drill
    browser_login(page, live_server, organizer)
    answer_tiles_offline(page)
    problems = console_errors(page)

    page.goto(f"{live_server.url}/drills/{drill.id}")
    page.get_by_role("link", name="連絡訓練を送る").click()
    page.wait_for_url(re.compile(r"/practice-call$"))
    participants = page.locator('[data-audience="participants"]')
    everyone = page.locator('[data-audience="district"]')
    assert "2名" in participants.locator(".audience-count").inner_text()
    assert "3名" in everyone.locator(".audience-count").inner_text()
    assert participants.locator('tr[data-channel="email"] .at-once').inner_text() == "2"
    assert page.get_by_label(re.compile("訓練の参加者")).is_checked()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PracticeCall)) == 0

    assert_accessible(page)
    page.get_by_label(re.compile("地区の全サポーター")).check()
    page.get_by_role("button", name="連絡訓練を送る").click()
    page.wait_for_url(re.compile(r"/practice-calls/\d+$"))
    assert page.locator('[data-figure="people"]').inner_text() == "3"
    assert page.locator('[data-figure="reached"]').inner_text().startswith("0")
    assert "連絡訓練を送りました。" in page.locator(".flash-success").inner_text()
    assert_accessible(page)
    call = wait_until(lambda: db.session.scalar(sa.select(PracticeCall)), what="the call")
    assert call.audience == PracticeAudience.district
    queued = db.session.scalar(
        sa.select(sa.func.count()).select_from(Delivery).where(Delivery.topic_id == call.id)
    )
    assert queued == 3
    assert problems == []


def test_the_phone_page_records_the_opening_and_takes_the_answer_on_a_small_phone(
    phone_page,
    live_server,
    district,
    organizer,
    make_supporter,
    make_drill,
    smtp_sink,
    webhook_sink,
    server_chain,
    practice_chain,
):
    page = phone_page
    supporter = make_supporter(
        district, email="hanako@example.jp", notification_urls=[webhook_sink.url("/hanako")]
    )
    drill = make_drill(district, title="第2回 まち歩き見守り声掛け訓練")
    add_participants(drill, [supporter])
    call, _ = services.send_practice_call(drill, PracticeAudience.participants, organizer)
    db.session.commit()
    deliver_all()  # the e-mail goes out; the webhook waits 5 minutes
    [mail] = smtp_sink.to("hanako@example.jp")
    # Sent outside a request in this test, the link has no host (PUBLIC_BASE_URL is unset).
    match = re.search(r"/p/[A-Za-z0-9_-]+\?via=email", mail.get_content())
    assert match is not None
    path = match.group(0)
    problems = console_errors(page)

    page.goto(f"{live_server.url}{path}")
    assert "これは連絡訓練です。実際の捜索ではありません。" in page.locator("main").inner_text()
    page.locator("#received").wait_for(state="visible")
    assert page.locator("#received").inner_text().endswith("受け取りました")
    recipient = wait_until(
        lambda: db.session.scalar(
            sa.select(PracticeCallRecipient).where(PracticeCallRecipient.opened_at.is_not(None))
        ),
        what="the opening",
    )
    assert recipient.opened_via == "email"
    rows = deliveries_of(call.id, supporter.id)
    assert rows["email"].opened_at is not None
    assert rows["webhook"].status == DeliveryStatus.skipped  # the next step is not needed

    # Made for a 360 px phone: nothing wider than the screen, big buttons, large type.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    yes = page.get_by_role("button", name="参加できます")
    no = page.get_by_role("button", name="今は参加できない")
    for button in (yes, no):
        box = button.bounding_box()
        assert box is not None and box["height"] >= 56 and box["width"] >= 0.8 * 360
    lead_px = page.locator(".practice-lead").first.evaluate(
        "el => parseFloat(getComputedStyle(el).fontSize)"
    )
    assert lead_px >= 20

    yes.click()
    page.get_by_text("「参加できます」と答えました。ありがとうございます。").wait_for()
    assert yes.get_attribute("aria-pressed") == "true"
    assert no.get_attribute("aria-pressed") == "false"
    answered = wait_until(
        lambda: db.session.scalar(
            sa.select(PracticeCallRecipient).where(PracticeCallRecipient.answer.is_not(None))
        ),
        what="the answer",
    )
    assert answered.answer == Answer.yes and answered.answered_via == "email"
    assert page.url.endswith("?via=email")  # the script kept the page; no form round trip
    assert_accessible(page)
    assert problems == []
