"""The issue's browser test for the board: an organizer adds a Keep, a Problem and a Try on the
projector page (a second open board sees each note without a reload), turns the Try into an
action item with an owner and a due date, plans the district's next drill, finds the open
action item on that drill's page and closes it there. Screenshots of the board at projector
size and the printed report (A4 PDF) land in test-artifacts/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support import browser_login

from watchnet.core.extensions import db
from watchnet.drills.models import Drill
from watchnet.kpt.models import ActionItem, ActionStatus

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _add_note(page: Any, kind: str, text: str) -> None:
    page.fill(f"#kpt-new-{kind}", text)
    page.click(f"form.kpt-add[data-kind={kind}] button[type=submit]")
    page.locator(f"#kpt-items-{kind} .kpt-text", has_text=text).wait_for(timeout=5000)


def test_kpt_board_try_becomes_an_action_item_closed_on_the_next_drills_page(
    live_server: Any, browser: Any, page: Any, district: Any, organizer: Any, make_drill: Any
) -> None:
    drill = make_drill(district, title="第1回 まち歩き訓練")
    page.set_viewport_size({"width": 1920, "height": 1080})
    browser_login(page, live_server, organizer)
    page.goto(f"{live_server.url}/drills/{drill.id}/kpt")

    # A second board (the projector) is open at the same time.
    other = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP")
    projector = other.new_page()
    browser_login(projector, live_server, organizer)
    projector.goto(f"{live_server.url}/drills/{drill.id}/kpt")
    projector.evaluate("window.__loaded_once = true")

    _add_note(page, "keep", "自分から名乗ることができた")
    _add_note(page, "problem", "電話で現在地を伝えるのが難しかった")
    _add_note(page, "try", "目印になる建物を事前に確認する")
    for kind, text in (
        ("keep", "自分から名乗ることができた"),
        ("try", "目印になる建物を事前に確認する"),
    ):
        projector.locator(f"#kpt-items-{kind} .kpt-text", has_text=text).wait_for(timeout=2500)
    assert projector.evaluate("window.__loaded_once") is True  # no reload
    other.close()

    # Large type for the projector.
    size = page.eval_on_selector(
        "#kpt-items-keep .kpt-item", "el => parseFloat(getComputedStyle(el).fontSize)"
    )
    assert size >= 24

    try_item = page.locator("#kpt-items-try .kpt-item", has_text="目印になる建物")
    try_item.locator("button[data-act=action]").click()
    try_item.locator("input[name=owner]").fill("山田 一郎")
    try_item.locator("input[name=due_date]").fill("2026-05-31")
    try_item.locator("form.kpt-make-action button[type=submit]").click()
    try_item = page.locator("#kpt-items-try .kpt-item", has_text="目印になる建物")
    try_item.locator(".kpt-action", has_text="山田 一郎").wait_for(timeout=5000)
    assert "2026-05-31" in try_item.locator(".kpt-action").inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "kpt_board.png"))

    # The printed report, A4.
    page.goto(f"{live_server.url}/drills/{drill.id}/report")
    # The route map is part of the report: the line and the numbered checkpoints.
    page.wait_for_selector(".report-map-frame .leaflet-overlay-pane path")
    assert page.locator(".report-map-frame .wn-cp-badge").count() == len(drill.checkpoints) > 0
    page.emulate_media(media="print")
    page.pdf(path=str(ARTIFACTS / "report.pdf"), format="A4", print_background=True)
    page.emulate_media(media="screen")
    if shutil.which("pdftoppm"):
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "60",
                str(ARTIFACTS / "report.pdf"),
                str(ARTIFACTS / "report"),
            ],
            check=True,
        )

    # Plan the district's next drill.
    page.goto(f"{live_server.url}/drills/new")
    page.fill("input[name=title]", "第2回 まち歩き訓練")
    page.select_option("select[name=district_id]", str(district.id))
    page.fill("input[name=date]", "2026-06-14")
    page.fill("input[name=start_time]", "09:30")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    db.session.expire_all()
    next_drill = db.session.scalar(sa.select(Drill).where(Drill.title == "第2回 まち歩き訓練"))
    assert next_drill is not None and next_drill.district_id == district.id
    page.goto(f"{live_server.url}/drills/{next_drill.id}")

    open_actions = page.locator("#open-actions")
    row = open_actions.locator("li", has_text="目印になる建物を事前に確認する")
    row.wait_for()
    assert "山田 一郎" in row.inner_text()
    with page.expect_navigation():
        row.locator("button[type=submit]").click()
    assert page.url.endswith(f"/drills/{next_drill.id}#open-actions")
    assert open_actions.locator("li", has_text="目印になる建物").count() == 0

    db.session.expire_all()
    action = db.session.scalar(sa.select(ActionItem))
    assert action is not None
    assert action.status == ActionStatus.done
    assert action.closed_in_drill_id == next_drill.id


def test_a_feedback_quote_becomes_a_note_with_one_click(
    live_server: Any, page: Any, district: Any, organizer: Any, make_drill: Any, make_supporter: Any
) -> None:
    from watchnet.feedback.models import Feedback, Viewpoint
    from watchnet.kpt.models import KptItem

    drill = make_drill(district, title="声掛け訓練")
    walker = make_supporter(district, name="山田 花子")
    quote = "正面から声を掛けてもらえて安心した。"
    long_quote = "とても長い感想。" * 70  # over the 500 characters of a note
    for n, (viewpoint, text) in enumerate(
        [(Viewpoint.called, quote), (Viewpoint.caller, long_quote), (Viewpoint.observer, " ")]
    ):
        db.session.add(
            Feedback(
                drill_id=drill.id,
                supporter_id=walker.id,
                viewpoint=viewpoint,
                text=text,
                client_id=f"q-{n}",
            )
        )
    db.session.commit()
    browser_login(page, live_server, organizer)
    page.goto(f"{live_server.url}/drills/{drill.id}/kpt")
    quotes = page.locator("#kpt-quotes .kpt-quote")
    assert quotes.count() == 2  # the blank one is left out, and no author's name is shown
    assert "山田" not in page.locator("#kpt-quotes").inner_text()
    quotes.nth(0).locator("button[data-quote-kind=keep]").click()
    page.locator("#kpt-items-keep .kpt-text", has_text=quote).wait_for(timeout=5000)
    db.session.expire_all()
    assert [i.text for i in db.session.scalars(sa.select(KptItem))] == [quote]
    quotes.nth(1).locator("button[data-quote-kind=problem]").click()
    assert page.locator("#kpt-new-problem").input_value() == long_quote
    assert "500" in page.locator("#kpt-status").inner_text()
