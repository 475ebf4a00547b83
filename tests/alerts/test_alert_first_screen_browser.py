"""The supporter's alert page on a 360 × 740 phone (issue 12, point 2): 「捜索に参加する」 and
the ☎ link are on the first screen, uncovered, whatever was typed into the alert; the details
follow below. (Before: the page was 2,880 px long, join at y = 1,543, ☎ at 2,146.)"""

from __future__ import annotations

from typing import Any

import pytest
from alert_field_support import start_field_alert
from test_alert_field_browser import phone  # noqa: F401 - the 360 × 740 phone fixture
from test_alert_staff_browser import assert_accessible

pytestmark = pytest.mark.browser

SCREEN = {"width": 360, "height": 740}
LONG = "紺色のジャンパーに灰色のズボン、白いスニーカー。" * 12  # a coordinator who types a lot

VARIANTS = {
    "real": {},
    "exercise": {"is_exercise": True},
    "long texts": {
        "display_name": "見守り" * 30,
        "clothing_today": LONG[:500],
        "features": LONG[:1000],
        "last_seen_place": LONG[:300],
        "contact_label": "八幡地区 生活支援コーディネーター（平日の日中。夜間と休日は警察署）",
    },
}


def on_first_screen(page: Any, locator: Any) -> dict[str, float]:
    """The element's box lies inside the first screen and nothing covers its centre."""
    box = locator.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["y"] >= 0, box
    assert box["x"] + box["width"] <= SCREEN["width"], box
    assert box["y"] + box["height"] <= SCREEN["height"], box
    covered_by = locator.evaluate(
        """(el) => {
            const r = el.getBoundingClientRect();
            const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
            if (hit && (hit === el || el.contains(hit))) { return null; }
            return hit ? hit.outerHTML.slice(0, 80) : 'nothing';
        }"""
    )
    assert covered_by is None, covered_by
    return box


@pytest.mark.parametrize("variant", [*VARIANTS, "english"])
def test_join_and_call_are_on_the_first_screen_of_a_360_phone(
    live_server: Any,
    phone: Any,  # noqa: F811
    district: Any,
    coordinator: Any,
    make_supporter: Any,
    variant: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fa = start_field_alert(district, coordinator, make_supporter, **VARIANTS.get(variant, {}))
    page = phone
    page.goto(live_server.url + fa.url)
    if variant == "english":
        with page.expect_navigation():
            page.get_by_role("button", name="English").click()
    page.wait_for_selector("body[data-alert-ready='1']")
    assert page.evaluate("window.scrollY") == 0
    join_name = "I'll search" if variant == "english" else "捜索に参加する"
    join = page.get_by_role("button", name=join_name, exact=True)
    call = page.locator("#call-link")
    assert call.get_attribute("href") == "tel:0270000000"
    assert "☎" in call.inner_text()
    join_box = on_first_screen(page, join)
    call_box = on_first_screen(page, call)
    # Big enough for an older thumb.
    assert join_box["height"] >= 56 and call_box["height"] >= 56
    assert join_box["width"] >= 300 and call_box["width"] >= 300
    # "I can't now" is on the first screen as well, below them.
    cannot = on_first_screen(page, page.locator(".answer-btn.cannot"))
    assert cannot["y"] > call_box["y"] > join_box["y"]
    # The details follow below, in full; the page stays one phone wide.
    details = page.locator(".alert-facts").bounding_box()
    assert details is not None and details["y"] > cannot["y"]
    if variant == "long texts":
        assert LONG[:500] in page.locator(".alert-facts").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= SCREEN["width"]
    # Nothing was sent yet: no "all sent" bar hides the bottom of the screen.
    assert page.locator("#queue-status").is_hidden()
    assert_accessible(page)
    height = page.evaluate("document.documentElement.scrollHeight")
    with capsys.disabled():
        print(
            f"\nalert page at 360×740 ({variant}): join at y = {join_box['y']:.0f}–"
            f"{join_box['y'] + join_box['height']:.0f}, ☎ at y = {call_box['y']:.0f}–"
            f"{call_box['y'] + call_box['height']:.0f}, page {height} px long"
        )
