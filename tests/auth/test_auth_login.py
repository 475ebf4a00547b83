"""Staff login with a throttle, CSRF on forms, supporters' links, API tokens on the account page."""

from __future__ import annotations

import re

import sqlalchemy as sa
from support import PASSWORD

from watchnet.auth.models import ApiToken
from watchnet.auth.services import make_signin_token, revoke_signin_token, staff_from_api_token
from watchnet.core.extensions import db


def test_a_wrong_password_is_refused_with_a_message(client, organizer):
    response = client.post("/login", data={"email": organizer.email, "password": "nope-nope"})
    assert response.status_code == 401
    assert "パスワードが違います" in response.get_data(
        as_text=True
    ) or "password is wrong" in response.get_data(as_text=True)


def test_login_is_throttled_after_five_failures_even_with_the_right_password(client, organizer):
    for _ in range(5):
        client.post("/login", data={"email": organizer.email, "password": "wrong-wrong"})
    response = client.post("/login", data={"email": organizer.email, "password": PASSWORD})
    assert response.status_code == 429
    assert client.get("/account").status_code == 302  # still not logged in


def test_the_throttle_counts_across_app_instances(app, csrf_app, organizer):
    # Two app objects stand for two worker processes sharing one database.
    first = app.test_client()
    for _ in range(5):
        first.post("/login", data={"email": organizer.email, "password": "wrong-wrong"})
    second = csrf_app.test_client()
    html = second.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    response = second.post(
        "/login", data={"email": organizer.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 429


def test_forms_without_a_csrf_token_are_refused(csrf_app, organizer):
    client = csrf_app.test_client()
    response = client.post("/login", data={"email": organizer.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "<form" not in response.get_data(as_text=True) or "csrf" not in response.headers
    assert client.get("/account").status_code == 302  # not logged in
    assert client.post("/logout").status_code == 400


def test_a_supporter_link_signs_the_phone_in_until_it_is_revoked(app, supporter):
    phone = app.test_client()
    link = f"/s/{make_signin_token(supporter)}"
    assert phone.get(link).status_code == 302
    assert phone.get("/me").status_code == 200
    revoke_signin_token(supporter)
    db.session.commit()
    assert phone.get("/me").status_code in (302, 403)
    assert phone.get(link).status_code == 404
    assert phone.get(f"/s/{make_signin_token(supporter)}").status_code == 302


def test_a_forged_link_signs_nobody_in(client, supporter):
    token = make_signin_token(supporter)
    assert client.get(f"/s/{token[:-2]}xx").status_code == 404


def test_supporters_cannot_open_staff_pages(supporter_client):
    assert supporter_client.get("/account").status_code == 403


def test_staff_create_and_revoke_api_tokens_on_the_account_page(organizer_client, organizer):
    html = organizer_client.post("/account", data={"name": "GIS"}).get_data(as_text=True)
    raw = re.search(r'id="new-token">(wn_[^<]+)<', html).group(1)
    assert staff_from_api_token(raw).id == organizer.id
    db.session.commit()  # last_used_at, as the API view would
    token = db.session.scalar(sa.select(ApiToken))
    assert token.token_hash != raw and raw not in html.replace(f">{raw}<", "")
    assert organizer_client.post(f"/account/tokens/{token.id}/revoke").status_code == 302
    db.session.expire_all()
    assert staff_from_api_token(raw) is None
