"""The flyer in headless Chromium: printed as PDF it is exactly one A4 portrait page, in a
Japanese font, with the photo; long descriptions and a closed alert still make one page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from alert_exports_support import close, make_alert, make_person
from support import browser_login

from watchnet.alerts.models import AlertStatus
from watchnet.core.extensions import db

A4_POINTS = (595, 842)  # 210 x 297 mm, portrait
ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts"


def pdf_page_count(pdf: bytes) -> int:
    """The number of page objects in a PDF (Chromium writes them uncompressed)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def pdf_media_boxes(pdf: bytes) -> set[tuple[int, int]]:
    boxes = re.findall(rb"/MediaBox\s*\[\s*[\d.]+\s+[\d.]+\s+([\d.]+)\s+([\d.]+)", pdf)
    return {(round(float(w)), round(float(h))) for w, h in boxes}


def print_flyer(page: Any, server: Any, user: Any, alert_id: int, name: str) -> bytes:
    browser_login(page, server, user)
    from support import wait_for_page_drawn

    page.goto(f"{server.url}/alerts/{alert_id}/flyer")
    wait_for_page_drawn(page)
    page.emulate_media(media="print")
    ARTIFACTS.mkdir(exist_ok=True)
    pdf: bytes = page.pdf(
        path=str(ARTIFACTS / f"{name}.pdf"),
        format="A4",
        print_background=True,
        prefer_css_page_size=True,
    )
    return pdf


@pytest.mark.browser
def test_the_flyer_prints_on_exactly_one_a4_page_with_the_photo_in_a_japanese_font(
    live_server, page, coordinator, district
):
    alert = make_alert(district, make_person(district))
    hosts: set[str] = set()
    page.on("request", lambda req: hosts.add(req.url.split("/")[2]))
    pdf = print_flyer(page, live_server, coordinator, alert.id, "flyer")
    assert pdf_page_count(pdf) == 1
    assert pdf_media_boxes(pdf) == {A4_POINTS}
    # The photo decoded and is shown; the screen-only print button is not printed.
    assert page.locator(".flyer-photo img").evaluate("img => img.naturalWidth") == 300
    assert not page.locator("#print-button").is_visible()
    assert page.locator("h1").inner_text() == "さがしています"
    # Japanese text is set in Noto Sans CJK (embedded), not in boxes of a missing font.
    assert re.search(rb"/FontName\s*/[A-Z]{6}\+NotoSansCJK", pdf), "no CJK font embedded"
    # Everything came from the app itself.
    assert hosts == {live_server.url.split("/")[2]}


@pytest.mark.browser
def test_a_long_description_and_an_exercise_banner_still_fit_on_one_page(
    live_server, page, coordinator, district
):
    long = "とても長い説明文です。" * 40
    alert = make_alert(
        district,
        make_person(district),
        is_exercise=True,
        features=long[:1000],
        clothing_today=long[:500],
        hair=long[:200],
        belongings=long[:300],
        last_seen_place=long[:300],
        contact_label="八幡地区 生活支援コーディネーター（平日 8:30〜17:15）",
    )
    pdf = print_flyer(page, live_server, coordinator, alert.id, "flyer-long")
    assert pdf_page_count(pdf) == 1
    assert page.locator(".exercise-banner").is_visible()
    # The number to call is never cut off by long texts above it.
    number = page.locator(".call .number")
    assert number.is_visible() and number.inner_text() == "027-123-4567"
    box = number.bounding_box()
    sheet = page.locator(".sheet-inner").bounding_box()
    assert box is not None and sheet is not None
    assert box["y"] + box["height"] <= sheet["y"] + sheet["height"]


@pytest.mark.browser
def test_a_closed_alerts_flyer_is_one_page_without_the_person(
    live_server, page, coordinator, district
):
    alert = make_alert(district, make_person(district))
    close(alert, AlertStatus.found)
    db.session.commit()
    pdf = print_flyer(page, live_server, coordinator, alert.id, "flyer-closed")
    assert pdf_page_count(pdf) == 1
    assert page.locator("h1").inner_text() == "発見されました"
    assert page.locator("img").count() == 0


@pytest.mark.browser
def test_the_print_button_opens_the_print_dialog_and_the_flyer_is_accessible(
    live_server, page, coordinator, district
):
    from axe_playwright_python.sync_playwright import Axe

    alert = make_alert(district, make_person(district), is_exercise=True)
    browser_login(page, live_server, coordinator)
    page.goto(f"{live_server.url}/alerts/{alert.id}/flyer")
    page.evaluate("window.print = () => { window.__printed = true; }")
    page.click("#print-button")
    assert page.evaluate("window.__printed") is True
    results = Axe().run(page)
    serious = [
        (v["id"], [n["html"][:120] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []
