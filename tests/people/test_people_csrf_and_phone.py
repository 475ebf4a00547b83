"""With CSRF on, as in production, every supporter form carries a working token; the
supporter's page fits a 360 px phone screen."""

from __future__ import annotations

import re

import pytest

from watchnet.core.extensions import db
from watchnet.people.models import Supporter

PASSWORD = "correct horse battery"


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


@pytest.fixture()
def csrf_client(csrf_app, organizer):
    client = csrf_app.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": organizer.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return client


def test_revoke_without_a_token_is_refused_and_with_the_page_token_works(csrf_client, supporter):
    response = csrf_client.post(f"/supporters/{supporter.id}/revoke-link", data={"confirm": "y"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Supporter, supporter.id).token_version == 1
    html = csrf_client.get(f"/supporters/{supporter.id}").get_data(as_text=True)
    response = csrf_client.post(
        f"/supporters/{supporter.id}/revoke-link", data={"confirm": "y", "csrf_token": _token(html)}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Supporter, supporter.id).token_version == 2


def test_register_form_carries_a_working_token(csrf_client, district):
    html = csrf_client.get("/supporters/new").get_data(as_text=True)
    data = {
        "name": "山田 太郎",
        "name_kana": "やまだ たろう",
        "kind": "ward_head",
        "district_id": str(district.id),
    }
    assert csrf_client.post("/supporters/new", data=data).status_code == 400
    response = csrf_client.post("/supporters/new", data={**data, "csrf_token": _token(html)})
    assert response.status_code == 302


@pytest.mark.browser
def test_my_page_fits_a_360_px_phone(browser, live_server, district, make_supporter, make_drill):
    from watchnet.auth.services import make_signin_token
    from watchnet.drills.models import Participant

    supporter = make_supporter(district, name="見守 花子", name_kana="みまもり はなこ")
    drill = make_drill(
        district, title="第2回 まち歩き見守り声掛け訓練 " * 3, meeting_place="八幡公民館 集会室"
    )
    db.session.add(Participant(drill_id=drill.id, supporter_id=supporter.id))
    db.session.commit()
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        locale="ja-JP",
        timezone_id="Asia/Tokyo",
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/s/{make_signin_token(supporter)}")  # waits for "load"
        assert page.url.endswith("/me")
        assert page.locator("h1").inner_text().find("見守 花子") >= 0
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360
        size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert size >= 18
    finally:
        context.close()
