"""The supporter's alert page on a phone-sized headless Chromium with geolocation granted:
open the personal link, answer "I'll search", take a sector, report a sighting with a photo,
then the all-clear arrives without a reload and every detail is gone from the page."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h3
import pytest
import sqlalchemy as sa
from alert_core_support import PHONE, point_at
from alert_field_support import PERSONAL, jpeg_bytes, start_field_alert
from PIL import Image
from support import answer_tiles_offline

from watchnet.alerts import sectors
from watchnet.alerts.models import (
    Acknowledgement,
    AlertRecipient,
    AlertStatus,
    SearchPosition,
    SearchSectorClaim,
    Sighting,
)
from watchnet.alerts.services import close_alert, override_radius
from watchnet.core.extensions import db

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HERE = point_at(300, 180)  # the phone: 300 m south of the last-seen point


def wait_until(predicate: Callable[[], Any], timeout_s: float = 15.0, what: str = "") -> Any:
    """Poll the database until the predicate holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        db.session.expire_all()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.1)


@pytest.fixture()
def phone(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A 360 px phone in Japanese with geolocation granted, tiles answered offline."""
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        locale="ja-JP",
        timezone_id="Asia/Tokyo",
        geolocation={"latitude": HERE[0], "longitude": HERE[1], "accuracy": 10},
        permissions=["geolocation"],
    )
    answer_tiles_offline(context)
    page = context.new_page()
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def _side_neighbour(fa: Any) -> str:
    """A sector next to the last-seen one, east or west of it: in the middle band of the map,
    clear of the last-seen label above and the attribution and status bar below."""
    lat = fa.alert.last_seen_lat
    centre = sectors.cell_of(lat, fa.alert.last_seen_lon)
    ring = [c for c in h3.grid_ring(centre, 1) if c in set(sectors.alert_cells(fa.alert))]
    return str(min(ring, key=lambda c: abs(h3.cell_to_latlng(c)[0] - lat)))


def test_search_from_the_link_then_the_all_clear_removes_the_details(
    live_server: Any,
    phone: Any,
    district: Any,
    coordinator: Any,
    make_supporter: Any,
    tmp_path: Path,
) -> None:
    fa = start_field_alert(district, coordinator, make_supporter)
    recipient = fa.recipients[0]
    page = phone
    page.goto(live_server.url + fa.url)
    page.wait_for_selector("body[data-alert-ready='1']")
    # The description, photo and what to do are on the page, in Japanese, phone-sized.
    assert page.locator(".alert-facts").inner_text().count("紺色のジャンパー") == 1
    assert page.locator("img.alert-photo").evaluate("img => img.complete && img.naturalWidth") > 0
    call = page.locator("#call-link")
    assert call.get_attribute("href") == "tel:0270000000"
    assert call.bounding_box()["height"] >= 56
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.evaluate("window.__sameDocument = true")

    # One tap: "I'll search" — the answer is stored, and the position starts to flow.
    page.get_by_role("button", name="捜索に参加する").click()
    assert page.locator("#answer-status").inner_text().startswith("ありがとうございます")
    wait_until(
        lambda: (
            db.session.get_one(AlertRecipient, recipient.id).answer == Acknowledgement.searching
        ),
        what="the answer",
    )
    wait_until(
        lambda: db.session.scalar(
            sa.select(SearchPosition).where(SearchPosition.supporter_id == recipient.supporter_id)
        ),
        what="a shared position",
    )

    # Take a sector by tapping it on the map.
    cell = _side_neighbour(fa)
    page.locator(".field-map").evaluate("el => el.scrollIntoView({block: 'center'})")
    page.locator(f"path[data-cell='{cell}']").click()
    claim = wait_until(
        lambda: db.session.scalar(
            sa.select(SearchSectorClaim).where(SearchSectorClaim.released_at.is_(None))
        ),
        what="a sector claim",
    )
    assert (claim.cell, claim.supporter_id) == (cell, recipient.supporter_id)
    page.wait_for_selector(f"path[data-cell='{cell}'][data-state='mine']")
    assert page.locator("#sector-status").inner_text() == "あなたの担当区域は緑色です。"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "alert_field_searching.png"), full_page=True)

    # Report a sighting with a photo that carries GPS in its EXIF.
    photo_path = tmp_path / "IMG_0001.jpg"
    photo_path.write_bytes(jpeg_bytes((120, 90), gps=True))
    page.get_by_role("button", name="見かけたかもしれない").click()
    page.fill("#s-description", "紺色の上着の男性が南へ歩いていた")
    page.get_by_label("間違いない").check()
    page.locator("#s-direction label.dial-s").click()  # the dial's big "south" arrow
    page.set_input_files("#s-photo", str(photo_path))
    page.get_by_role("button", name="目撃情報を送る").click()
    sighting = wait_until(lambda: db.session.scalar(sa.select(Sighting)), what="the sighting")
    assert sighting.description == "紺色の上着の男性が南へ歩いていた"
    assert (sighting.certainty.value, sighting.direction.value) == ("sure", "s")
    assert abs(sighting.lat - HERE[0]) < 1e-4 and abs(sighting.lon - HERE[1]) < 1e-4
    assert sighting.photo is not None and b"PhoneMakerXYZ" not in sighting.photo
    assert not Image.open(io.BytesIO(sighting.photo)).getexif()
    page.wait_for_function("document.getElementById('queue-status').dataset.actions === '0'")

    # The coordinator widens the search: the ring and the sectors grow without a reload.
    before = page.locator("path.wn-sector").count()
    override_radius(fa.alert, 2500, "test")
    db.session.commit()
    page.wait_for_function(
        "n => document.querySelectorAll('path.wn-sector').length > n", arg=before
    )
    assert "約2.5km" in page.locator("#radius-text").inner_text()
    page.wait_for_selector(f"path[data-cell='{cell}'][data-state='mine']")

    # The coordinator closes the alert: the page changes by itself.
    close_alert(fa.alert, outcome=AlertStatus.found, actor="test")
    db.session.commit()
    page.wait_for_selector("#alert-closed:not([hidden])", timeout=15_000)
    assert (
        page.locator("#alert-closed h1").inner_text()
        == "見つかりました。ご協力ありがとうございました。"
    )
    assert page.evaluate("window.__sameDocument") is True  # no reload
    page.screenshot(path=str(ARTIFACTS / "alert_field_found.png"), full_page=True)
    html = page.content()
    for text in [
        *PERSONAL,
        "82歳",
        PHONE,
        "tel:",
        f"/photos/{fa.photo.id}",
        "alert-config",
        "紺色の上着",
        f"{fa.alert.last_seen_lat:.4f}",
    ]:
        assert text not in html, text
    assert page.locator("img").count() == 0
    stored = page.evaluate(
        "Object.keys(window.localStorage).filter(k => k.indexOf('watchnet.alert.') === 0)"
    )
    assert stored == []
