"""On a 360 px phone in headless Chromium: the feedback form is big, fits, and sends once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from watchnet.auth.services import make_signin_token
from watchnet.core.extensions import db
from watchnet.drills.models import DrillStatus, Participant, ParticipantRole
from watchnet.feedback.models import Feedback, GaveNameFirst, Viewpoint

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


def assert_accessible(page: Any) -> None:
    """axe finds nothing serious or critical on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    serious = [
        v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")
    ]
    assert serious == [], [(v["id"], [n["target"] for n in v["nodes"]]) for v in serious]


def test_a_caller_answers_with_big_buttons_on_a_360_px_phone(
    live_server, phone_page, district, make_drill, supporter
):
    drill = make_drill(
        district, title="八幡地区 第2回 まち歩き見守り声掛け訓練", status=DrillStatus.ended
    )
    db.session.add(
        Participant(drill_id=drill.id, supporter_id=supporter.id, role=ParticipantRole.walker)
    )
    db.session.commit()
    page = phone_page
    page.goto(f"{live_server.url}/s/{make_signin_token(supporter)}")
    page.goto(f"{live_server.url}/field/drills/{drill.id}/feedback")

    assert page.evaluate("document.documentElement.lang") == "ja"
    assert_accessible(page)
    page.click("a.fb-choice.suggested")
    page.wait_for_url("**viewpoint=caller")
    assert_accessible(page)

    # Large type; every answer is a big target; nothing wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 18
    boxes = page.locator("#q-safe_approach .fb-box")
    assert boxes.count() == 5
    for i in range(5):
        box = boxes.nth(i).bounding_box()
        assert box is not None and box["height"] >= 56 and box["width"] >= 48, box
    send = page.locator(".fb-form button[type=submit]").bounding_box()
    assert send is not None and send["height"] >= 56 and send["width"] >= 280

    page.locator("#q-safe_approach .fb-opt").nth(3).click()
    page.locator("#q-gave_name_first .fb-opt").first.click()
    page.locator("#q-location_ease .fb-opt").nth(1).click()
    page.fill("textarea[name=text]", "現在地を電話で伝えるのが難しかった")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "feedback_phone.png"), full_page=True)
    # An impatient double tap sends the form twice; it is stored once.
    page.dblclick(".fb-form button[type=submit]")
    page.wait_for_selector(".flash-success")
    assert_accessible(page)

    db.session.expire_all()
    [saved] = db.session.scalars(sa.select(Feedback)).all()
    assert (
        saved.viewpoint,
        saved.safe_approach,
        saved.gave_name_first,
        saved.location_ease,
        saved.confidence_alone,
    ) == (Viewpoint.caller, 4, GaveNameFirst.yes, 2, None)
    assert saved.text == "現在地を電話で伝えるのが難しかった"


def test_an_organizer_sorts_feedback_into_a_theme_and_chooses_a_quote_in_the_browser(
    live_server, page, district, make_drill, organizer
):
    from support import browser_login

    organizer.locale = "en"
    drill = make_drill(district, title="八幡地区 第2回", status=DrillStatus.ended)
    for i, (vp, text) in enumerate(
        [
            (Viewpoint.caller, "自分から名乗ることを忘れた"),
            (Viewpoint.called, "名乗ってもらえると安心する"),
            (Viewpoint.observer, "正面から近づいていた"),
        ]
    ):
        db.session.add(
            Feedback(drill_id=drill.id, viewpoint=vp, text=text, client_id=f"b{i}", safe_approach=4)
        )
    db.session.commit()
    browser_login(page, live_server, organizer)

    page.goto(f"{live_server.url}/drills/{drill.id}/viewpoints")
    item = page.locator("#theme-unsorted article", has_text="自分から名乗ることを忘れた")
    item.locator("summary").click()
    item.locator("label", has_text="Giving one's own name first").locator("input").check()
    item.locator("input[name=is_quote_chosen]").check()
    item.locator("button[type=submit]").click()
    page.wait_for_selector(".flash-success")

    quotes = page.locator(
        "section", has=page.locator("h2", has_text="Quotes chosen for the newsletter")
    )
    assert "自分から名乗ることを忘れた" in quotes.inner_text()
    own_name = page.locator(
        "section", has=page.locator("h2", has_text="Giving one's own name first")
    )
    assert "自分から名乗ることを忘れた" in own_name.locator("[data-column=caller]").inner_text()
    assert page.locator("article.fb-item.chosen").count() == 1
    assert_accessible(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "feedback_viewpoints.png"), full_page=True)
