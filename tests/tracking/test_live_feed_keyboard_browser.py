"""The live view's feed scrolls from the keyboard (issue 12, point 15): with more steps than
its card holds, the card is in the tab order, named by its heading, and Page Down and End
scroll it; axe's scrollable-region-focusable finds nothing on the overflowing feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support import answer_tiles_offline, browser_login

from watchnet.core.extensions import db
from watchnet.drills.models import DrillStatus, Participant
from watchnet.tracking.models import EncounterStepKind
from watchnet.tracking.schemas import StepInput
from watchnet.tracking.services import record_step

pytestmark = pytest.mark.browser

STEPS = list(EncounterStepKind)


def test_the_overflowing_feed_scrolls_with_page_down_and_end(
    app: Any,
    live_server: Any,
    browser: Any,
    organizer: Any,
    district: Any,
    make_drill: Any,
    make_supporter: Any,
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    drill = make_drill(district, status=DrillStatus.live, starts_at=datetime.now(UTC))
    walker = make_supporter(district)
    participant = Participant(drill_id=drill.id, supporter_id=walker.id)
    db.session.add(participant)
    db.session.commit()
    start = datetime.now(UTC) - timedelta(minutes=40)
    with app.test_request_context("/"):
        for n in range(36):  # six encounters of six steps: far more than the card's height
            record_step(
                participant,
                StepInput(
                    client_id=f"kb-{n}",
                    step=STEPS[n % len(STEPS)],
                    done_at=start + timedelta(minutes=n),
                    checkpoint_id=drill.checkpoints[0].id,
                ),
            )
    db.session.commit()

    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="ja-JP", timezone_id="Asia/Tokyo"
    )
    try:
        answer_tiles_offline(context)
        page = context.new_page()
        browser_login(page, live_server, organizer)
        page.goto(f"{live_server.url}/drills/{drill.id}/live")
        page.wait_for_function("document.querySelectorAll('#live-feed li').length >= 36")
        card = page.locator("#live-feed-card")
        sizes = card.evaluate("(el) => [el.scrollHeight, el.clientHeight, el.scrollTop]")
        assert sizes[0] > sizes[1] * 2 and sizes[2] == 0, sizes
        assert card.get_attribute("tabindex") == "0"
        assert (
            page.evaluate(
                "document.getElementById(document.getElementById('live-feed-card')"
                ".getAttribute('aria-labelledby')).textContent"
            )
            == "できごと"
        )

        # From the element before it in the tab order, Tab reaches the card.
        page.locator("#live-checkpoints").focus()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "live-feed-card"
        page.keyboard.press("PageDown")
        page.wait_for_function("document.getElementById('live-feed-card').scrollTop > 0")
        page.keyboard.press("End")
        page.wait_for_function(
            """() => { const c = document.getElementById('live-feed-card');
                       return c.scrollTop + c.clientHeight >= c.scrollHeight - 2; }"""
        )

        results = Axe().run(page, context="#live-feed-card")
        ids = [v["id"] for v in results.response["violations"]]
        assert "scrollable-region-focusable" not in ids, ids
    finally:
        context.close()
