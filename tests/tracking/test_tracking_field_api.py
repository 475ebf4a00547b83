"""The phone's JSON API in the field: consent, positions, encounter steps, nearest checkpoint."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import signin_supporter
from watchnet.core.extensions import db
from watchnet.drills.models import DrillStatus, Participant, Team
from watchnet.tracking.models import EncounterStep, LatestPosition, LiveEvent, PositionReport


def now() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime) -> str:
    return value.isoformat()


@pytest.fixture()
def live_drill(make_drill: Callable[..., Any], district: Any, organizer: Any) -> Any:
    return make_drill(
        district,
        status=DrillStatus.live,
        started_at=now() - timedelta(hours=1),
        created_by_id=organizer.id,
        checkpoints=[
            {"name": "ポイント1", "lat": 36.3340, "lon": 138.9461},
            {"name": "ポイント2", "lat": 36.3360, "lon": 138.9480},
        ],
    )


def join(drill: Any, supporter: Any, consent: bool = True, team: Any = None) -> Participant:
    participant = Participant(
        drill_id=drill.id,
        supporter_id=supporter.id,
        team_id=team.id if team else None,
        position_consent_at=now() if consent else None,
    )
    db.session.add(participant)
    db.session.commit()
    return participant


@pytest.fixture()
def phone(app: Flask, live_drill: Any, supporter: Any) -> FlaskClient:
    """The supporter's signed-in phone; the supporter takes part and agreed to share."""
    team = Team(drill_id=live_drill.id, name="1班", color="#d62728")
    db.session.add(team)
    db.session.commit()
    join(live_drill, supporter, team=team)
    return signin_supporter(app.test_client(), supporter)


def position(
    client_id: str,
    lat: float = 36.3341,
    lon: float = 138.9462,
    at: datetime | None = None,
    accuracy_m: float | None = 8.0,
) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "lat": lat,
        "lon": lon,
        "accuracy_m": accuracy_m,
        "recorded_at": iso(at or now()),
    }


def positions_url(drill: Any) -> str:
    return f"/field/drills/{drill.id}/positions"


# ---------------------------------------------------------------------------------------------
# Positions


def test_a_position_sent_twice_is_stored_once_and_a_retried_batch_counts_duplicates(
    phone: FlaskClient, live_drill: Any, supporter: Any
) -> None:
    t0 = now() - timedelta(minutes=2)
    batch = [
        position("pos-aaaa-1", at=t0),
        position("pos-aaaa-2", at=t0 + timedelta(seconds=10)),
        position("pos-aaaa-1", at=t0),
    ]
    first = phone.post(positions_url(live_drill), json={"positions": batch})
    assert first.status_code == 200
    assert first.get_json() == {"accepted": 2, "duplicates": 1}

    retry = phone.post(positions_url(live_drill), json={"positions": batch[:2]})
    assert retry.get_json() == {"accepted": 0, "duplicates": 2}

    stored = db.session.scalars(
        sa.select(PositionReport.client_id).order_by(PositionReport.client_id)
    ).all()
    assert stored == ["pos-aaaa-1", "pos-aaaa-2"]
    latest = db.session.scalars(sa.select(LatestPosition)).one()
    assert latest.supporter_id == supporter.id
    assert latest.recorded_at == t0 + timedelta(seconds=10)


def test_the_latest_position_only_moves_forward_in_the_phones_time(
    phone: FlaskClient, live_drill: Any
) -> None:
    newer, older = now() - timedelta(seconds=5), now() - timedelta(minutes=3)
    phone.post(
        positions_url(live_drill),
        json={"positions": [position("late-report-1", lat=36.3400, at=newer)]},
    )
    # A report queued while offline arrives afterwards but was taken earlier.
    response = phone.post(
        positions_url(live_drill),
        json={"positions": [position("early-report-1", lat=36.3300, at=older)]},
    )
    assert response.get_json() == {"accepted": 1, "duplicates": 0}
    latest = db.session.scalars(sa.select(LatestPosition)).one()
    assert latest.lat == pytest.approx(36.3400)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PositionReport)) == 2


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"lat": 91}, "positions.0.lat"),
        ({"lon": -181}, "positions.0.lon"),
        ({"accuracy_m": -1}, "positions.0.accuracy_m"),
        ({"accuracy_m": 10_001}, "positions.0.accuracy_m"),
        ({"recorded_at": "__future__"}, "positions.0.recorded_at"),
        ({"recorded_at": "__old__"}, "positions.0.recorded_at"),
        ({"recorded_at": "2026-01-01T10:00:00"}, "positions.0.recorded_at"),  # no offset
        ({"lat": "36.3"}, "positions.0.lat"),
        ({"lat": True}, "positions.0.lat"),
        ({"client_id": "short"}, "positions.0.client_id"),
        ({"client_id": "has spaces in it"}, "positions.0.client_id"),
    ],
)
def test_impossible_positions_are_refused_with_the_field_named_and_nothing_stored(
    phone: FlaskClient, live_drill: Any, change: dict[str, Any], path: str
) -> None:
    item = position("good-one-1")
    if change.get("recorded_at") == "__future__":
        change = {"recorded_at": iso(now() + timedelta(hours=1))}
    elif change.get("recorded_at") == "__old__":
        change = {"recorded_at": iso(now() - timedelta(hours=25))}
    bad = {**item, **change}
    response = phone.post(
        positions_url(live_drill), json={"positions": [position("good-one-2"), bad]}
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == 422
    assert list(body["errors"]) == [path.replace("positions.0", "positions.1")]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PositionReport)) == 0


def test_not_a_number_in_json_is_refused(phone: FlaskClient, live_drill: Any) -> None:
    # Python's json module accepts NaN and Infinity; a position cannot be either.
    raw = (
        '{"positions": [{"client_id": "nan-report-1", "lat": NaN, "lon": Infinity, '
        f'"accuracy_m": 5, "recorded_at": "{iso(now())}"}}]}}'
    )
    response = phone.post(positions_url(live_drill), data=raw, content_type="application/json")
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"positions.0.lat", "positions.0.lon"}


@pytest.mark.parametrize("body", [{"positions": []}, {"positions": "x"}, {}, [1, 2]])
def test_an_empty_or_malformed_batch_is_refused(
    phone: FlaskClient, live_drill: Any, body: Any
) -> None:
    response = phone.post(positions_url(live_drill), json=body)
    assert response.status_code == 422
    assert response.get_json()["errors"]


def test_a_batch_larger_than_the_limit_is_refused(phone: FlaskClient, live_drill: Any) -> None:
    batch = [position(f"bulk-{i:06d}") for i in range(101)]
    response = phone.post(positions_url(live_drill), json={"positions": batch})
    assert response.status_code == 422
    assert "positions" in response.get_json()["errors"]


def test_a_body_that_is_not_json_gets_a_json_400(phone: FlaskClient, live_drill: Any) -> None:
    response = phone.post(
        positions_url(live_drill), data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.is_json and response.get_json()["code"] == 400


def test_positions_are_refused_before_the_drill_is_live_and_after_it_ends(
    phone: FlaskClient, live_drill: Any
) -> None:
    live_drill.status = DrillStatus.planned
    db.session.commit()
    response = phone.post(positions_url(live_drill), json={"positions": [position("plan-0001")]})
    assert response.status_code == 409
    assert response.get_json()["message"]

    live_drill.status = DrillStatus.ended
    live_drill.finished_at = now()
    db.session.commit()
    response = phone.post(positions_url(live_drill), json={"positions": [position("ended-001")]})
    assert response.status_code == 409
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PositionReport)) == 0


def test_positions_need_the_supporters_consent_which_the_phone_can_give_and_withdraw(
    phone: FlaskClient, live_drill: Any
) -> None:
    off = phone.post(f"/field/drills/{live_drill.id}/consent", json={"share": False})
    assert off.get_json() == {"share": False}
    refused = phone.post(positions_url(live_drill), json={"positions": [position("noconsent1")]})
    assert refused.status_code == 409

    on = phone.post(f"/field/drills/{live_drill.id}/consent", json={"share": True})
    assert on.get_json() == {"share": True}
    accepted = phone.post(positions_url(live_drill), json={"positions": [position("consent01")]})
    assert accepted.get_json() == {"accepted": 1, "duplicates": 0}

    bad = phone.post(f"/field/drills/{live_drill.id}/consent", json={"share": "yes"})
    assert bad.status_code == 422 and "share" in bad.get_json()["errors"]


def test_a_supporter_who_does_not_take_part_gets_404_everywhere(
    app: Flask, live_drill: Any, make_supporter: Callable[..., Any], district: Any
) -> None:
    stranger = make_supporter(district, name="部外 次郎")
    client = signin_supporter(app.test_client(), stranger)
    base = f"/field/drills/{live_drill.id}"
    assert (
        client.post(f"{base}/positions", json={"positions": [position("stranger1")]}).status_code
        == 404
    )
    assert client.post(f"{base}/consent", json={"share": True}).status_code == 404
    step = {"client_id": "stranger-step", "step": "noticed", "done_at": iso(now())}
    assert client.post(f"{base}/steps", json=step).status_code == 404
    assert client.get(f"{base}/steps").status_code == 404
    assert client.get(f"{base}/where?lat=36.334&lon=138.946").status_code == 404
    response = client.get(f"{base}/nearest-checkpoint?lat=36.334&lon=138.946")
    assert response.status_code == 404 and response.is_json
    assert client.get(f"{base}/events").status_code == 404
    assert client.get("/field/drills/999999/steps").status_code == 404


def test_staff_and_strangers_cannot_use_the_phone_api(
    organizer_client: FlaskClient, client: FlaskClient, live_drill: Any
) -> None:
    for who in (organizer_client, client):
        response = who.post(positions_url(live_drill), json={"positions": [position("staff001")]})
        assert response.status_code == 403
        assert response.is_json


def test_the_phone_must_send_the_csrf_token(
    csrf_app: Flask, live_drill: Any, supporter: Any
) -> None:
    join(live_drill, supporter)
    phone = csrf_app.test_client()
    landing = phone.get(f"/s/{_token(supporter)}", follow_redirects=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', landing.get_data(as_text=True))
    assert token is not None
    body = {"positions": [position("csrf-test-1")]}
    refused = phone.post(positions_url(live_drill), json=body)
    assert refused.status_code == 400 and refused.is_json
    accepted = phone.post(
        positions_url(live_drill), json=body, headers={"X-CSRFToken": token.group(1)}
    )
    assert accepted.get_json() == {"accepted": 1, "duplicates": 0}


def _token(supporter: Any) -> str:
    from watchnet.auth.services import make_signin_token

    return make_signin_token(supporter)


# ---------------------------------------------------------------------------------------------
# Encounter steps


def step(client_id: str, kind: str, done_at: datetime, **extra: Any) -> dict[str, Any]:
    return {"client_id": client_id, "step": kind, "done_at": iso(done_at), **extra}


def test_steps_keep_the_phones_time_arrive_in_any_order_and_are_stored_once(
    phone: FlaskClient, live_drill: Any, supporter: Any
) -> None:
    url = f"/field/drills/{live_drill.id}/steps"
    t0 = now() - timedelta(minutes=20)
    checkpoint = live_drill.checkpoints[0]
    sent = [
        step("step-0000-1", "noticed", t0, checkpoint_id=checkpoint.id),
        step(
            "step-0000-2",
            "approached_front",
            t0 + timedelta(minutes=1),
            lat=36.3341,
            lon=138.9462,
            accuracy_m=6,
        ),
        step(
            "step-0000-3",
            "contacted",
            t0 + timedelta(minutes=3),
            contact_whom="anshin_center",
            note="あんしんセンターに電話",
        ),
    ]
    # The phone was offline: the queue drains after the later step was already sent.
    assert phone.post(url, json=sent[2]).status_code == 201
    first = phone.post(url, json=sent[0])
    assert first.status_code == 201
    assert phone.post(url, json=sent[1]).status_code == 201
    # A retry of a step that did arrive (the answer was lost) is not stored again.
    again = phone.post(url, json=sent[0])
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]

    assert db.session.scalar(sa.select(sa.func.count()).select_from(EncounterStep)) == 3
    steps = phone.get(url).get_json()["steps"]
    assert [s["client_id"] for s in steps] == ["step-0000-1", "step-0000-2", "step-0000-3"]
    assert [datetime.fromisoformat(s["done_at"]) for s in steps] == [
        t0,
        t0 + timedelta(minutes=1),
        t0 + timedelta(minutes=3),
    ]
    assert steps[0]["checkpoint_name"] == "ポイント1"
    # A step logged near a checkpoint without naming one is put at that checkpoint.
    assert steps[1]["checkpoint_id"] == checkpoint.id
    assert steps[2]["contact_whom"] == "anshin_center"
    assert steps[2]["note"] == "あんしんセンターに電話"

    events = db.session.scalars(
        sa.select(LiveEvent).where(LiveEvent.kind == "step").order_by(LiveEvent.id)
    ).all()
    assert len(events) == 3
    assert all(e.audience == "" for e in events)
    assert events[0].payload["name"] == supporter.name
    assert events[0].payload["team_name"] == "1班"
    assert events[0].payload["color"] == "#d62728"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"step": "waved"}, "step"),
        ({"step": "contacted"}, "contact_whom"),
        ({"contact_whom": "neighbour"}, "contact_whom"),
        ({"checkpoint_id": 999_999}, "checkpoint_id"),
        ({"note": "あ" * 501}, "note"),
        ({"done_at": "yesterday"}, "done_at"),
        ({"lat": 95, "lon": 138.9}, "lat"),
        ({"corrects_client_id": "never-sent-1"}, "corrects_client_id"),
    ],
)
def test_impossible_steps_are_refused_with_the_field_named(
    phone: FlaskClient, live_drill: Any, change: dict[str, Any], path: str
) -> None:
    body = {**step("step-bad-01", "noticed", now()), **change}
    response = phone.post(f"/field/drills/{live_drill.id}/steps", json=body)
    assert response.status_code == 422
    assert path in response.get_json()["errors"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EncounterStep)) == 0


def test_a_correction_is_kept_beside_the_original(phone: FlaskClient, live_drill: Any) -> None:
    url = f"/field/drills/{live_drill.id}/steps"
    t0 = now() - timedelta(minutes=5)
    phone.post(url, json=step("orig-step-1", "contacted", t0, contact_whom="police"))
    phone.post(url, json=step("other-step-1", "handed_over", t0 + timedelta(minutes=2)))
    fix = phone.post(
        url,
        json=step(
            "fix-step-01",
            "contacted",
            t0,
            contact_whom="family",
            note="家族でした",
            corrects_client_id="orig-step-1",
        ),
    )
    assert fix.status_code == 201

    steps = phone.get(url).get_json()["steps"]
    assert len(steps) == 2
    corrected = steps[0]
    assert corrected["contact_whom"] == "family"
    assert corrected["note"] == "家族でした"
    assert corrected["original"]["client_id"] == "orig-step-1"
    assert corrected["original"]["contact_whom"] == "police"
    assert steps[1]["original"] is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EncounterStep)) == 3


def test_steps_done_while_live_still_arrive_after_the_drill_ends_but_new_ones_do_not(
    phone: FlaskClient, live_drill: Any
) -> None:
    url = f"/field/drills/{live_drill.id}/steps"
    done_while_live = now() - timedelta(minutes=2)
    live_drill.status = DrillStatus.ended
    live_drill.finished_at = now() - timedelta(minutes=1)
    db.session.commit()
    late = phone.post(url, json=step("late-step-1", "handed_over", done_while_live))
    assert late.status_code == 201
    after = phone.post(url, json=step("after-end-1", "noticed", now()))
    assert after.status_code == 409


def test_steps_are_refused_before_the_drill_starts(phone: FlaskClient, live_drill: Any) -> None:
    live_drill.status = DrillStatus.planned
    db.session.commit()
    response = phone.post(
        f"/field/drills/{live_drill.id}/steps", json=step("early-step1", "noticed", now())
    )
    assert response.status_code == 409


# ---------------------------------------------------------------------------------------------
# Nearest checkpoint


def test_the_nearest_checkpoint_is_suggested_with_its_distance(
    phone: FlaskClient, live_drill: Any
) -> None:
    response = phone.get(
        f"/field/drills/{live_drill.id}/nearest-checkpoint?lat=36.3359&lon=138.9480"
    )
    checkpoint = response.get_json()["checkpoint"]
    assert checkpoint["name"] == "ポイント2"
    assert checkpoint["seq"] == 1
    assert 5 <= checkpoint["distance_m"] <= 20

    bad = phone.get(f"/field/drills/{live_drill.id}/nearest-checkpoint?lat=abc&lon=200")
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"lat", "lon"}


def test_a_drill_without_checkpoints_suggests_none(
    app: Flask, make_drill: Callable[..., Any], district: Any, supporter: Any
) -> None:
    drill = make_drill(district, status=DrillStatus.live, checkpoints=[])
    join(drill, supporter)
    phone = signin_supporter(app.test_client(), supporter)
    response = phone.get(f"/field/drills/{drill.id}/nearest-checkpoint?lat=36.33&lon=138.94")
    assert response.get_json() == {"checkpoint": None}


# ---------------------------------------------------------------------------------------------
# PostgreSQL's position path: one autocommitted statement and no pre-ping round trip.
# Connections the server ended while idle are replaced when checked out (web.py), so the first
# requests after a server-side disconnect still succeed; the report's own transaction settings
# (autocommit, synchronous_commit off) never leak into the pool.


def _postgresql_only() -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")


def _end_idle_connections() -> None:
    """What a server restart or an idle timeout does to the pool: every idle connection of
    this database is terminated by the server."""
    db.session.remove()
    admin = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        pids = set(
            conn.scalars(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND state = 'idle'"
                )
            )
        )
        assert pids, "the pool holds idle connections"
        for pid in pids:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = conn.scalar(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                {"pids": list(pids)},
            )
            if not alive:
                break
            time.sleep(0.02)
    admin.dispose()


def test_reports_and_pages_work_after_the_server_ended_the_pooled_connections(
    phone: FlaskClient, live_drill: Any
) -> None:
    _postgresql_only()
    first = phone.post(positions_url(live_drill), json={"positions": [position("pg-before-1")]})
    assert first.get_json() == {"accepted": 1, "duplicates": 0}
    _end_idle_connections()

    after = phone.post(positions_url(live_drill), json={"positions": [position("pg-after-01")]})
    assert after.status_code == 200 and after.get_json() == {"accepted": 1, "duplicates": 0}
    _end_idle_connections()
    page = phone.get(f"/field/drills/{live_drill.id}/steps")  # through the Session
    assert page.status_code == 200

    stored = db.session.scalars(sa.select(PositionReport.client_id)).all()
    assert sorted(stored) == ["pg-after-01", "pg-before-1"]


def test_the_reports_commit_settings_stay_in_its_own_transaction(
    phone: FlaskClient, live_drill: Any
) -> None:
    _postgresql_only()
    for i in range(8):  # past psycopg's prepare threshold: the prepared statement is used too
        response = phone.post(
            positions_url(live_drill), json={"positions": [position(f"pg-local-{i:02d}")]}
        )
        assert response.get_json() == {"accepted": 1, "duplicates": 0}
    # The pool hands the same connection to the Session: it is transactional and synchronous.
    db.session.remove()
    with db.engine.connect() as conn:
        assert conn.scalar(sa.text("SHOW synchronous_commit")) == "on"
        assert conn.connection.driver_connection.autocommit is False
        conn.execute(sa.text("CREATE TEMP TABLE probe (x int)"))
        conn.rollback()
        assert conn.execute(sa.text("SELECT to_regclass('pg_temp.probe')")).scalar() is None
