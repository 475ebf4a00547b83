"""Access ends when it should: revoking a supporter's link or deactivating them ends every
personal URL (sign-in link, drill field page and its API, feedback page, the personal alert
link with its photo, state, ack, sector, positions and sightings) and every phone session at
once; reactivating issues a new link while the old URLs stay refused. Phone sessions last
SUPPORTER_SESSION_DAYS since their last use. Over HTTP with the real database."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

# The alert fixtures (a registered person with a shared photo, supporters placed near the
# last-seen point) live with the alert tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "alerts"))
from alert_field_support import start_field_alert  # noqa: E402
from support import signin_supporter  # noqa: E402

from watchnet.alerts import sectors  # noqa: E402
from watchnet.alerts.models import AlertRecipient, SearchPosition, Sighting  # noqa: E402
from watchnet.audit.models import AuditEvent  # noqa: E402
from watchnet.auth.services import make_signin_token  # noqa: E402
from watchnet.core.config import ConfigError, build_config  # noqa: E402
from watchnet.core.extensions import db  # noqa: E402
from watchnet.drills.models import DrillStatus, Participant  # noqa: E402
from watchnet.people.models import Supporter  # noqa: E402
from watchnet.tracking.models import PositionReport  # noqa: E402

SIGNED_OUT_JA = "このスマートフォンはログアウトしています"
LINK_ENDED_JA = "このリンクは使えなくなりました"
PERSON_JA = ["見守 一郎", "みまもり いちろう", "右足を少し引きずる"]


@dataclass
class World:
    supporter: Supporter
    drill_id: int
    alert_token: str
    photo_id: int
    cell: str
    signin_token: str


@pytest.fixture()
def world(district: Any, coordinator: Any, make_supporter: Any, make_drill: Any) -> World:
    fa = start_field_alert(district, coordinator, make_supporter, supporters=1)
    supporter = fa.recipients[0].supporter
    drill = make_drill(
        district, status=DrillStatus.live, starts_at=datetime.now(UTC) - timedelta(minutes=5)
    )
    db.session.add(
        Participant(
            drill_id=drill.id, supporter_id=supporter.id, position_consent_at=datetime.now(UTC)
        )
    )
    db.session.commit()
    return World(
        supporter=supporter,
        drill_id=drill.id,
        alert_token=fa.token,
        photo_id=fa.photo.id,
        cell=sectors.alert_cells(fa.alert)[0],
        signin_token=make_signin_token(supporter),
    )


_counter = iter(range(10**6))


def _cid(prefix: str) -> str:
    return f"{prefix}-{next(_counter):06d}"


def _position(prefix: str) -> dict[str, Any]:
    return {
        "client_id": _cid(prefix),
        "lat": 36.3340,
        "lon": 138.9460,
        "accuracy_m": 8,
        "recorded_at": (datetime.now(UTC) - timedelta(seconds=30)).isoformat(),
    }


def _session_urls(client: FlaskClient, w: World) -> dict[str, Any]:
    """Every personal URL that rides on the phone session; name → response."""
    d = w.drill_id
    return {
        "me": client.get("/me"),
        "field home": client.get("/field/"),
        "drill page": client.get(f"/field/drills/{d}"),
        "feedback page": client.get(f"/field/drills/{d}/feedback"),
        "steps": client.get(f"/field/drills/{d}/steps"),
        "nearest": client.get(f"/field/drills/{d}/nearest-checkpoint?lat=36.334&lon=138.946"),
        "events": client.get(f"/field/drills/{d}/events"),
        "drill positions": client.post(
            f"/field/drills/{d}/positions", json={"positions": [_position("drill")]}
        ),
    }


def _alert_urls(client: FlaskClient, token: str, w: World) -> dict[str, Any]:
    """Every URL of the personal alert link; name → response."""
    base = f"/a/{token}"
    return {
        "alert page": client.get(base),
        "photo": client.get(f"{base}/photos/{w.photo_id}"),
        "state": client.get(f"{base}/state"),
        "ack": client.post(f"{base}/ack", json={"answer": "searching"}),
        "sector": client.post(f"{base}/sector", json={"action": "take", "cell": w.cell}),
        "alert positions": client.post(
            f"{base}/positions", json={"positions": [_position("alert")]}
        ),
        "sightings": client.post(
            f"{base}/sightings",
            data={
                "client_id": _cid("seen"),
                "lat": "36.3341",
                "lon": "138.9470",
                "place_source": "phone",
                "direction": "ne",
                "description": "北東へ歩いていた",
                "certainty": "likely",
            },
            content_type="multipart/form-data",
        ),
    }


PAGES = {"me", "field home", "drill page", "feedback page", "alert page", "photo"}


def _assert_working(responses: dict[str, Any]) -> None:
    for name, response in responses.items():
        assert response.status_code in (200, 201, 302), (name, response.status_code)
    page = responses.get("alert page")
    if page is not None:
        html = page.get_data(as_text=True)
        assert all(text in html for text in PERSON_JA)
        assert responses["photo"].mimetype == "image/jpeg"


def _assert_refused(responses: dict[str, Any], page_text: str | None = None) -> None:
    """403 for every URL: a Japanese page for pages, JSON for the API; nothing personal."""
    for name, response in responses.items():
        assert response.status_code == 403, (name, response.status_code)
        body = response.get_data(as_text=True)
        assert not any(text in body for text in PERSON_JA), name
        if name in PAGES:
            assert response.mimetype == "text/html", name
            if name in ("alert page", "photo"):
                assert LINK_ENDED_JA in body, name
            else:
                assert (page_text or SIGNED_OUT_JA) in body, name
        else:
            assert response.is_json, name


def _recorded() -> tuple[int, int, int]:
    count = lambda model: db.session.scalar(  # noqa: E731
        sa.select(sa.func.count()).select_from(model)
    )
    return count(PositionReport), count(SearchPosition), count(Sighting)


def _audit_actions(supporter_id: int) -> list[tuple[str, str | None]]:
    rows = db.session.execute(
        sa.select(AuditEvent.action, AuditEvent.detail)
        .where(
            AuditEvent.subject_type == "supporter",
            AuditEvent.subject_id == supporter_id,
            AuditEvent.action != "supporter.signin_link_viewed",
        )
        .order_by(AuditEvent.id)
    ).all()
    return [(a, (d or {}).get("what")) for a, d in rows]


def _check_all_refused(app: Flask, phone: FlaskClient, w: World) -> None:
    before = _recorded()
    _assert_refused(_session_urls(phone, w))
    _assert_refused(_alert_urls(app.test_client(), w.alert_token, w))
    # The refused session was signed out: the next request is anonymous, still refused.
    _assert_refused(_session_urls(phone, w))
    # A fresh sign-in with the old link fails too.
    old = app.test_client().get(f"/s/{w.signin_token}")
    assert old.status_code == 404
    assert "このリンクは使えなくなりました" in old.get_data(as_text=True)
    assert _recorded() == before  # no position, search position or sighting went in


def test_before_any_change_every_personal_url_works(app: Flask, world: World) -> None:
    phone = signin_supporter(app.test_client(), world.supporter)
    _assert_working(_session_urls(phone, world))
    _assert_working(_alert_urls(phone, world.alert_token, world))
    assert _recorded() == (1, 1, 1)


@pytest.mark.parametrize("how", ["revoke", "deactivate"])
def test_revoking_or_deactivating_ends_every_url_and_session_and_reactivating_issues_a_new_link(
    app: Flask, world: World, organizer_client: FlaskClient, how: str
) -> None:
    w = world
    phone = signin_supporter(app.test_client(), w.supporter)
    idle_phone = signin_supporter(app.test_client(), w.supporter)  # no request until the end
    _assert_working(_session_urls(phone, w))
    _assert_working(_alert_urls(phone, w.alert_token, w))

    if how == "revoke":
        response = organizer_client.post(
            f"/supporters/{w.supporter.id}/revoke-link", data={"confirm": "y"}
        )
    else:
        response = organizer_client.post(f"/supporters/{w.supporter.id}/deactivate")
    assert response.status_code == 302
    _check_all_refused(app, phone, w)

    if how == "deactivate":
        detail = organizer_client.get(f"/supporters/{w.supporter.id}").get_data(as_text=True)
        assert "有効に戻すと新しいリンクを発行します" in detail
        assert organizer_client.post(f"/supporters/{w.supporter.id}/reactivate").status_code == 302
        # After reactivation the old link, the old alert link and the old sessions stay refused.
        _check_all_refused(app, phone, w)

    # The idle phone's session from before is refused at its first request, here the
    # position fast path, which reads the session without loading the supporter.
    first = _drill_position(idle_phone, w.drill_id)
    assert first.status_code == 403 and first.get_json()["signed_out"] is True
    _assert_refused(_session_urls(idle_phone, w))

    # Staff see that a new link was issued and hand it over; it works.
    detail = organizer_client.get(f"/supporters/{w.supporter.id}").get_data(as_text=True)
    assert 'id="new-link-issued"' in detail and "新しいリンクを発行しました" in detail
    db.session.expire_all()
    supporter = db.session.get(Supporter, w.supporter.id)
    assert supporter is not None
    new_token = make_signin_token(supporter)
    assert new_token != w.signin_token and new_token in detail
    new_phone = signin_supporter(app.test_client(), supporter)
    # The supporter's page lists the alert with its new link, which works; the old stays dead.
    me = new_phone.get("/me").get_data(as_text=True)
    new_alert_token = db.session.scalar(
        sa.select(AlertRecipient.token).where(AlertRecipient.supporter_id == supporter.id)
    )
    assert new_alert_token and new_alert_token != w.alert_token
    assert f"/a/{new_alert_token}" in me and w.alert_token not in me
    _assert_working(_session_urls(new_phone, w))
    _assert_working(_alert_urls(new_phone, new_alert_token, w))
    assert app.test_client().get(f"/a/{w.alert_token}/state").status_code == 403

    actions = _audit_actions(supporter.id)
    ended = (
        ["supporter.link_revoked"]
        if how == "revoke"
        else ["supporter.deactivated", "supporter.reactivated"]
    )
    assert [
        a
        for a, _ in actions
        if a in ("supporter.link_revoked", "supporter.deactivated", "supporter.reactivated")
    ] == ended
    refused = {what for a, what in actions if a == "supporter.access_refused"}
    assert refused == {"session", "positions", "alert_link", "signin_link"}


def test_a_refused_alert_poll_tells_the_open_page_to_forget_the_details(
    app: Flask, world: World
) -> None:
    client = app.test_client()
    assert client.get(f"/a/{world.alert_token}/state").status_code == 200
    from watchnet.auth.services import revoke_signin_token

    revoke_signin_token(world.supporter)
    db.session.commit()
    refused = client.get(f"/a/{world.alert_token}/state")
    assert refused.status_code == 403
    body = refused.get_json()
    assert body["state"]["closed"] is True and body["signed_out"] is True
    assert LINK_ENDED_JA in body["message"]
    assert refused.headers["Cache-Control"] == "no-store, private"
    # An unknown token stays a plain 404, unaudited.
    assert client.get("/a/" + "x" * 43).status_code == 404


# ---------------------------------------------------------------------------------------------
# Session lifetime


def _backdate(client: FlaskClient, seconds: float) -> None:
    with client.session_transaction() as sess:
        sess["seen"] = int(time.time() - seconds)


def _drill_position(client: FlaskClient, drill_id: int) -> Any:
    return client.post(
        f"/field/drills/{drill_id}/positions", json={"positions": [_position("life")]}
    )


def test_a_phone_session_unused_for_longer_than_the_lifetime_is_refused(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert app.config["SUPPORTER_SESSION_DAYS"] == 30
    phone = signin_supporter(app.test_client(), world.supporter)
    _backdate(phone, 30 * 86400 - 600)
    assert phone.get("/me").status_code == 200  # used within the 30 days: renewed
    with phone.session_transaction() as sess:
        assert time.time() - sess["seen"] < 60
    _backdate(phone, 30 * 86400 + 600)
    refused = phone.get("/me")
    assert refused.status_code == 403 and SIGNED_OUT_JA in refused.get_data(as_text=True)
    assert phone.get("/me").status_code == 403  # signed out for good

    # The position fast path checks the same lifetime from the cookie alone.
    other = signin_supporter(app.test_client(), world.supporter)
    _backdate(other, 30 * 86400 + 600)
    response = _drill_position(other, world.drill_id)
    assert response.status_code == 403 and response.is_json
    assert _recorded()[0] == 0

    # The administrator's setting decides the lifetime.
    monkeypatch.setitem(app.config, "SUPPORTER_SESSION_DAYS", 2)
    short = signin_supporter(app.test_client(), world.supporter)
    _backdate(short, 3 * 86400)
    assert short.get("/me").status_code == 403


def test_a_session_in_use_is_renewed_at_most_once_a_day_not_on_every_report(
    app: Flask, world: World
) -> None:
    phone = signin_supporter(app.test_client(), world.supporter)
    _backdate(phone, 3600)
    response = _drill_position(phone, world.drill_id)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers  # the cookie is not re-signed
    _backdate(phone, 25 * 3600)
    response = _drill_position(phone, world.drill_id)
    assert response.status_code == 200
    assert "Set-Cookie" in response.headers  # renewed once
    again = _drill_position(phone, world.drill_id)
    assert again.status_code == 200 and "Set-Cookie" not in again.headers


def test_staff_sessions_are_not_bound_by_the_phone_lifetime(
    organizer_client: FlaskClient, world: World
) -> None:
    with organizer_client.session_transaction() as sess:
        assert "seen" not in sess
    assert organizer_client.get(f"/supporters/{world.supporter.id}").status_code == 200


def test_the_lifetime_setting_is_checked_at_start(tmp_path: Path) -> None:
    config = build_config(tmp_path, {"SUPPORTER_SESSION_DAYS": 90})
    assert config["PERMANENT_SESSION_LIFETIME"] >= 91 * 86400
    for bad in (0, 366, True, 7.5):
        with pytest.raises(ConfigError, match="SUPPORTER_SESSION_DAYS"):
            build_config(tmp_path, {"SUPPORTER_SESSION_DAYS": bad})


@pytest.mark.browser
def test_an_open_alert_page_forgets_the_details_when_the_link_is_revoked(
    live_server: Any, page: Any, world: World
) -> None:
    """The page left open on the phone polls its state: once the supporter's access ended it
    removes the person's details as it does at the all-clear, without a reload."""
    from watchnet.auth.services import revoke_signin_token

    page.goto(f"{live_server.url}/a/{world.alert_token}")
    page.wait_for_selector("body[data-alert-ready='1']")
    assert "右足を少し引きずる" in page.content()
    revoke_signin_token(world.supporter)
    db.session.commit()
    page.wait_for_selector("body[data-alert-status='revoked']", timeout=15000)
    assert LINK_ENDED_JA in page.locator("#alert-closed").inner_text()
    html = page.content()
    assert not any(text in html for text in PERSON_JA)


def test_the_alert_poll_costs_no_more_than_before(app: Flask, world: World) -> None:
    """A valid link's poll looks the token up and the supporter by primary key, as before the
    access checks: the revoked-token lookup runs only for a refused link."""
    client = app.test_client()
    url = f"/a/{world.alert_token}/state"
    assert client.get(url).status_code == 200
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()))

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert client.get(url).status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    assert not any("revoked_token =" in s for s in statements)
    assert sum(s.startswith("SELECT") and "FROM alert_recipient" in s for s in statements) == 1
    assert sum("FROM supporter" in s for s in statements) == 1
    # 7 statements in all at the time of writing (bench/alert_polls.py measures field_state).
    assert len(statements) <= 7


def test_reactivating_a_supporter_deactivated_before_access_ended_still_ends_the_old_urls(
    app: Flask, world: World
) -> None:
    """A supporter deactivated by the old code (flag only, links untouched) gets a new link
    and new alert links on reactivation; nothing from before comes back."""
    from watchnet.people.services import set_supporter_active

    phone = signin_supporter(app.test_client(), world.supporter)
    world.supporter.is_active = False  # as the old deactivation did
    db.session.commit()
    set_supporter_active(world.supporter, True)
    db.session.commit()
    assert phone.get("/me").status_code == 403
    assert app.test_client().get(f"/a/{world.alert_token}/state").status_code == 403
    assert app.test_client().get(f"/s/{world.signin_token}").status_code == 404
