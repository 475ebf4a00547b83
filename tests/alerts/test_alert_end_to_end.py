"""Issue 5, end to end, through the pages a coordinator and the links supporters use: register
a person, start an alert; supporters inside the radius receive e-mail (real SMTP server) and
webhook messages (real HTTP server), those outside nothing; widening reaches the next ring only;
acknowledge, take a sector, report a sighting, confirm it, close as found; every recipient gets
the all-clear and the link answers without any personal detail."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from PIL import Image
from support import login

from watchnet.alerts.models import Alert, AlertRecipient, Sighting
from watchnet.core.extensions import db
from watchnet.jobs.deliveries import deliver_due_notifications
from watchnet.notifications.models import Delivery, DeliveryStatus
from watchnet.people.models import NotificationAddress
from watchnet.registry.models import AtRiskPerson

LAST_SEEN = (36.3335, 138.9455)
M_PER_DEG_LAT = 111_320.0
M_PER_DEG_LON = 111_320.0 * 0.8056  # cos(36.33°)

# Words only the person's details contain: none may reach a page after the all-clear.
PERSONAL = ["試験 ヨシ", "しけん よし", "えんじ色のセーター", "左の頬にほくろ", "face.jpg"]


def _north(metres: float) -> tuple[float, float]:
    return LAST_SEEN[0] + metres / M_PER_DEG_LAT, LAST_SEEN[1]


def _east(metres: float) -> tuple[float, float]:
    return LAST_SEEN[0], LAST_SEEN[1] + metres / M_PER_DEG_LON


def _photo_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 400), (180, 120, 90)).save(out, "JPEG")
    return out.getvalue()


def _deliver_all(app: Any) -> None:
    with app.app_context():
        for _ in range(50):
            if not deliver_due_notifications(batch=200):
                pending = db.session.scalar(
                    sa.select(sa.func.count())
                    .select_from(Delivery)
                    .where(Delivery.status != DeliveryStatus.sent)
                )
                if not pending:
                    return
        raise AssertionError("the outbox did not drain")


def _mails(smtp_sink: Any, address: str) -> list[str]:
    return [str(m["Subject"]) + "\n" + m.get_content() for m in smtp_sink.to(address)]


def _hooks(webhook_sink: Any, path: str) -> list[str]:
    return [f"{b.get('title', '')}\n{b.get('message', '')}" for b in webhook_sink.to(path)]


def test_register_alert_widen_search_sight_confirm_and_close(
    app, client, district, coordinator, make_supporter, smtp_sink, webhook_sink
) -> None:
    people = {
        "near": _north(500),
        "searcher": _east(300),  # inside the first ring (1.2 km)
        "ring2": _north(1_400),  # inside 1.6 km only
        "far": _north(3_000),  # outside both
    }
    supporters = {}
    for key, (lat, lon) in people.items():
        s = make_supporter(
            district, name=f"支援 {key}", email=f"{key}@example.jp", home_lat=lat, home_lon=lon
        )
        db.session.add(
            NotificationAddress(supporter_id=s.id, url=webhook_sink.url(f"/{key}"), label="webhook")
        )
        supporters[key] = s.id
    db.session.commit()
    login(client, coordinator)

    # 1. Register the person with consent and a photo.
    today = datetime.now(ZoneInfo("Asia/Tokyo")).date()
    response = client.post(
        f"/districts/{district.id}/registry/new",
        data={
            "name": "試験 ヨシ",
            "name_kana": "しけん よし",
            "birth_date": "1940-02-01",
            "sex": "female",
            "height_cm": "150",
            "build": "slim",
            "hair": "白髪",
            "features": "左の頬にほくろ",
            "usual_clothing": "えんじ色のセーター",
            "walking_ability": "slow",
            "home_lat": str(LAST_SEEN[0]),
            "home_lon": str(LAST_SEEN[1]),
            "contacts-0-name": "試験 一郎",
            "contacts-0-relation": "長男",
            "contacts-0-phone": "090-0000-1111",
            "consent-given_by_name": "試験 一郎",
            "consent-given_by_relation": "長男",
            "consent-given_on": today.isoformat(),
            "consent-renew_by": (today + timedelta(days=365)).isoformat(),
            "consent-scopes": ["share_with_supporters", "share_photo", "share_with_police"],
            "photo_face": (io.BytesIO(_photo_bytes()), "face.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]
    person = db.session.scalar(sa.select(AtRiskPerson).where(AtRiskPerson.name == "試験 ヨシ"))
    assert person is not None and len(person.photos) == 1

    # 2. Start the alert from the registered person.
    page = client.get(f"/districts/{district.id}/alerts/new?person_id={person.id}")
    assert page.status_code == 200 and "試験 ヨシ" in page.get_data(as_text=True)
    now_local = datetime.now(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%dT%H:%M")
    start_form = {
        "person_id": str(person.id),
        "client_key": "e2e-start-1",
        "alert_mode": "real",
        "display_name": "試験 ヨシ",
        "name_kana": "しけん よし",
        "age": "86",
        "sex": "female",
        "height_cm": "150",
        "build": "slim",
        "hair": "白髪",
        "features": "左の頬にほくろ",
        "clothing_today": "えんじ色のセーター、灰色のズボン",
        "share_photo": "y",
        "last_seen_at": now_local,
        "last_seen_lat": str(LAST_SEEN[0]),
        "last_seen_lon": str(LAST_SEEN[1]),
        "last_seen_place": "八幡公民館の前",
        "contact_phone": "027-321-1234",
        "contact_label": "高崎警察署",
    }
    # The confirmation names the choice and who is told; nothing is queued before it.
    response = client.post(f"/districts/{district.id}/alerts/new", data=start_form)
    assert response.status_code == 200 and "本番の捜索依頼を2名に送ります" in response.get_data(
        as_text=True
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Alert)) == 0
    response = client.post(
        f"/districts/{district.id}/alerts/new", data={**start_form, "confirmed": "1"}
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:3000]
    alert = db.session.scalar(sa.select(Alert))
    assert alert is not None and alert.radius_m == 1200
    _deliver_all(app)

    for key in ("near", "searcher"):
        mails = _mails(smtp_sink, f"{key}@example.jp")
        hooks = _hooks(webhook_sink, f"/{key}")
        assert len(mails) == 1 and len(hooks) == 1, (key, mails, hooks)
        assert "027-321-1234" in mails[0] and "えんじ色のセーター" in mails[0]
        assert "試験 ヨシ" not in mails[0], "the name does not travel by e-mail"
        assert "/a/" in mails[0] and "/a/" in hooks[0]
    for key in ("ring2", "far"):
        assert not _mails(smtp_sink, f"{key}@example.jp") and not _hooks(webhook_sink, f"/{key}")

    # 3. Widen to the next ring (1.6 km): only the supporter between 1.2 and 1.6 km is told.
    response = client.post(f"/alerts/{alert.id}/radius", data={"radius_km": "1.6"})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]
    _deliver_all(app)
    assert len(_mails(smtp_sink, "ring2@example.jp")) == 1
    assert len(_hooks(webhook_sink, "/ring2")) == 1
    assert len(_mails(smtp_sink, "near@example.jp")) == 1, "the inner ring is not told again"
    assert not _mails(smtp_sink, "far@example.jp") and not _hooks(webhook_sink, "/far")

    # 4. The searcher opens the link from their e-mail, answers, takes a sector, reports.
    link = re.search(r"https?://[^\s]+/a/([\w-]+)", _mails(smtp_sink, "searcher@example.jp")[0])
    assert link is not None
    token = link.group(1)
    phone = app.test_client()
    page = phone.get(f"/a/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "えんじ色のセーター" in html and "027-321-1234" in html
    assert phone.post(f"/a/{token}/ack", json={"answer": "searching"}).status_code == 200
    state = phone.get(f"/a/{token}/state").get_json()
    cell = next(iter(state["sectors"])) if isinstance(state.get("sectors"), dict) else None
    if cell is None:
        import h3

        cell = h3.latlng_to_cell(*_east(300), app.config["ALERT_SECTOR_RESOLUTION"])
    taken = phone.post(f"/a/{token}/sector", json={"action": "take", "cell": cell})
    assert taken.status_code in (200, 201), taken.get_data(as_text=True)
    seen = _north(800)
    response = phone.post(
        f"/a/{token}/sightings",
        data={
            "client_id": "e2e-sighting-1",
            "lat": str(seen[0]),
            "lon": str(seen[1]),
            "place_source": "map",
            "direction": "n",
            "certainty": "likely",
            "description": "えんじ色のセーターの方が北へ歩いていた",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_data(as_text=True)

    # 5. The coordinator sees the answer, confirms the sighting and re-centres on it.
    dashboard = client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert "支援 searcher" in dashboard
    sighting = db.session.scalar(sa.select(Sighting))
    response = client.post(
        f"/alerts/{alert.id}/sightings/{sighting.id}/review",
        data={"status": "confirmed", "recentre": "y"},
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    alert = db.session.get(Alert, alert.id)
    assert abs(alert.last_seen_lat - seen[0]) < 1e-9
    _deliver_all(app)

    # 6. Close as found: every recipient gets the all-clear on every channel.
    response = client.post(
        f"/alerts/{alert.id}/close",
        data={
            "outcome": "found",
            "found_place": "八幡八幡宮の境内",
            "found_condition": "けがなし",
            "confirm": "y",
        },
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]
    _deliver_all(app)
    told = set(db.session.scalars(sa.select(AlertRecipient.supporter_id)))
    assert told == {supporters["near"], supporters["searcher"], supporters["ring2"]}
    for key in ("near", "searcher", "ring2"):
        last_mail = _mails(smtp_sink, f"{key}@example.jp")[-1]
        last_hook = _hooks(webhook_sink, f"/{key}")[-1]
        for text in (last_mail, last_hook):
            assert not any(word in text for word in PERSONAL), (key, text)
        assert "見つかりました" in last_mail or "発見" in last_mail, last_mail
    assert not _mails(smtp_sink, "far@example.jp")

    # 7. The link, its state and the photo answer without any personal detail.
    html = phone.get(f"/a/{token}").get_data(as_text=True)
    assert not any(word in html for word in PERSONAL), html
    assert "ありがとうございました" in html
    state_text = phone.get(f"/a/{token}/state").get_data(as_text=True)
    assert not any(word in state_text for word in PERSONAL)
    photo_id = person.photos[0].id
    assert phone.get(f"/a/{token}/photos/{photo_id}").status_code in (403, 404, 410)
