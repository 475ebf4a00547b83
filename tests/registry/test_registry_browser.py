"""Registering a person in headless Chromium: home and a usual place by map clicks, a photo,
then the person page shows them."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from registry_support import jpeg_with_gps
from support import answer_tiles_offline, browser_login

from watchnet.core.extensions import db
from watchnet.registry.models import AtRiskPerson

pytestmark = pytest.mark.browser


def test_coordinator_registers_a_person_with_map_clicks_and_a_photo(
    live_server, page, district, coordinator
):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    answer_tiles_offline(page)
    browser_login(page, live_server, coordinator)
    page.goto(f"{live_server.url}/")
    page.click("#nav-registry")
    page.wait_for_url(f"**/districts/{district.id}/registry")
    page.click("text=新しく登録する")
    page.wait_for_function("window.watchnetRegistryForm !== undefined")

    page.fill("#name", "前橋 とし")
    page.fill("#name_kana", "まえばし とし")
    page.fill("#birth_date", "1941-02-11")
    page.select_option("#walking_ability", "slow")
    page.fill("#usual_clothing", "茶色のジャンパー")

    page.locator(".registry-map").scroll_into_view_if_needed()
    box = page.locator(".registry-map .folium-map").bounding_box()
    assert box is not None and box["width"] > 300

    def click_map(x: float, y: float) -> dict[str, float]:
        expected: dict[str, float] = page.evaluate(
            "([x, y]) => window.watchnetMaps.main.containerPointToLatLng([x, y])", [x, y]
        )
        page.mouse.click(box["x"] + x, box["y"] + y)
        return expected

    assert page.get_attribute("#mode-home", "aria-pressed") == "true"
    home = click_map(180, 200)
    assert abs(float(page.input_value("#home_lat")) - home["lat"]) < 1e-5
    page.click("#mode-place")
    place = click_map(320, 120)
    row = page.locator("#place-list .place-row")
    assert row.count() == 1
    name_input = row.locator("input[type=text]").first
    assert name_input.evaluate("el => el === document.activeElement")
    name_input.fill("よく行くスーパー")
    page.fill("#home_address", "前橋市テスト町5-6")

    page.fill("#contacts-0-name", "前橋 正")
    page.fill("#contacts-0-relation", "長男")
    page.fill("#contacts-0-phone", "090-5555-6666")
    page.fill("#consent-given_by_name", "前橋 正")
    page.check("input[name='consent-scopes'][value=share_with_supporters]")
    page.check("input[name='consent-scopes'][value=share_photo]")
    page.set_input_files(
        "#photo_face",
        files=[
            {
                "name": "face.jpg",
                "mimeType": "image/jpeg",
                "buffer": jpeg_with_gps((640, 480)),
            }
        ],
    )
    page.click("#save-person")
    # Saved: the browser lands on the person's page, /registry/<id>.
    page.wait_for_url(lambda url: url.rsplit("/", 1)[-1].isdigit())

    person: Any = db.session.scalar(sa.select(AtRiskPerson))
    assert person is not None, page.content()
    assert page.url.endswith(f"/registry/{person.id}")
    assert abs(person.home_lat - home["lat"]) < 1e-5 and abs(person.home_lon - home["lng"]) < 1e-5
    [stored] = person.places
    assert stored.name == "よく行くスーパー" and abs(stored.lat - place["lat"]) < 1e-5

    assert page.locator("h1").inner_text().startswith("前橋 とし")
    assert page.locator("#consent-state").get_attribute("data-state") == "valid"
    assert "よく行くスーパー" in page.locator("#usual-places").inner_text()
    img = page.locator(".photo-list img").first
    img.scroll_into_view_if_needed()
    page.wait_for_function(
        "document.querySelector('.photo-list img').complete"
        " && document.querySelector('.photo-list img').naturalWidth > 0"
    )
    assert img.evaluate("el => [el.naturalWidth, el.naturalHeight]") == [640, 480]
    assert page.locator(".registry-map .wn-home-badge").count() == 1
    assert page.locator(".registry-map .wn-place-badge").count() == 1
    assert page.locator("#start-alert").is_visible()
    assert errors == []
