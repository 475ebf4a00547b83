"""「いまどこ？」 on a 360 × 740 phone names the address of the nearest imported address point
(街区レベル位置参照情報) in large type, the coordinates after it in small type."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import blank_png

from watchnet.auth.services import make_signin_token
from watchnet.core.extensions import db
from watchnet.districts.addresses import point_key
from watchnet.districts.models import AddressPoint, Landmark, LandmarkKind
from watchnet.drills.models import DrillStatus, Participant

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HERE = {"latitude": 36.33405, "longitude": 138.94615, "accuracy": 12}


@pytest.fixture()
def phone_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        locale="ja-JP",
        timezone_id="Asia/Tokyo",
        geolocation=HERE,
        permissions=["geolocation"],
    )
    tile = blank_png()
    context.route(
        "https://cyberjapandata.gsi.go.jp/**",
        lambda route: route.fulfill(status=200, content_type="image/png", body=tile),
    )
    page = context.new_page()
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def test_where_am_i_shows_the_address_sentence_with_the_coordinates_small_below(
    live_server: Any, phone_page: Any, district: Any, make_drill: Any, supporter: Any
) -> None:
    values = {
        "prefecture": "群馬県",
        "city": "高崎市",
        "town": "八幡町",
        "subtown": "",
        "block": "123",
        "lat": 36.33412,
        "lon": 138.94620,
    }
    db.session.add(AddressPoint(point_key=point_key(values), **values))
    db.session.add(
        Landmark(
            district_id=district.id,
            name="八幡公民館",
            kind=LandmarkKind.community_hall,
            lat=36.33380,
            lon=138.94600,
        )
    )
    drill = make_drill(
        district,
        status=DrillStatus.live,
        started_at=datetime.now(UTC) - timedelta(minutes=30),
        checkpoints=[{"name": "ポイント1 小学校の角", "lat": 36.3362, "lon": 138.9441}],
    )
    db.session.add(Participant(drill_id=drill.id, supporter_id=supporter.id))
    db.session.commit()

    page = phone_page
    page.goto(f"{live_server.url}/s/{make_signin_token(supporter)}")
    page.goto(f"{live_server.url}/field/drills/{drill.id}")
    page.wait_for_selector("body[data-field-ready='1']")
    page.evaluate("""() => {
        window.__spoken = [];
        window.speechSynthesis.speak = (u) => window.__spoken.push(u.text);
    }""")
    page.click("#where-btn")
    page.wait_for_function("document.getElementById('where-main').textContent.indexOf('番地') >= 0")
    main = page.inner_text("#where-main")
    assert main == "ここは高崎市八幡町123番地付近です。八幡公民館の北東 約30mです。"
    assert page.inner_text("#where-coords") == "緯度・経度は 36.33405, 138.94615 です。"

    # The sentence is large and in view once the panel has scrolled up; the coordinates
    # follow it, smaller.
    page.wait_for_function("""() => {
        const r = document.getElementById('where-main').getBoundingClientRect();
        return r.top >= 0 && r.bottom <= window.innerHeight;
    }""")
    sizes = page.evaluate("""() => ['where-main', 'where-coords'].map(
        (id) => parseFloat(getComputedStyle(document.getElementById(id)).fontSize))""")
    assert sizes[0] >= 24 and sizes[1] < sizes[0], sizes
    main_bottom, coords_top = page.evaluate("""() => [
        document.getElementById('where-main').getBoundingClientRect().bottom,
        document.getElementById('where-coords').getBoundingClientRect().top]""")
    assert coords_top >= main_bottom - 1, (main_bottom, coords_top)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "where_address.png"))

    page.click("#where-speak")
    assert page.evaluate("window.__spoken") == [main]  # read aloud: the sentence only
