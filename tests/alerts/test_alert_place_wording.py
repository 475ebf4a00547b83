"""The place supporters are told in an alert is one they can find: the address of an imported
address point beside the nearest landmark with direction and distance, never 「自宅付近」
(whose home?) and never coordinates alone. (The start form's proposals and refusals, and
what is said near the person's home, are in test_alert_start_place.py.)"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alert_staff_support import CENTRE, start_fields
from flask import Flask
from flask.testing import FlaskClient
from support import login

from watchnet.alerts.models import Alert
from watchnet.core.extensions import db
from watchnet.districts.addresses import point_key
from watchnet.districts.models import AddressPoint, Landmark, LandmarkKind


@pytest.fixture()
def coordinator_client(app: Flask, coordinator: Any) -> FlaskClient:
    return login(app.test_client(), coordinator)


def add_point(town: str, block: str, lat: float, lon: float) -> None:
    values = {
        "prefecture": "群馬県",
        "city": "高崎市",
        "town": town,
        "subtown": "",
        "block": block,
        "lat": lat,
        "lon": lon,
    }
    db.session.add(AddressPoint(point_key=point_key(values), **values))
    db.session.commit()


@pytest.fixture()
def hall(district: Any) -> Landmark:
    landmark = Landmark(
        district_id=district.id,
        name="八幡公民館",
        kind=LandmarkKind.community_hall,
        lat=CENTRE[0] - 0.0009,  # 100 m south of the home
        lon=CENTRE[1],
    )
    db.session.add(landmark)
    db.session.commit()
    return landmark


def test_an_alert_placed_by_a_map_click_alone_gets_a_place_supporters_can_find(
    coordinator_client: FlaskClient, district: Any, hall: Landmark
) -> None:
    add_point("八幡町", "123", CENTRE[0] + 0.0001, CENTRE[1])
    response = coordinator_client.post(
        f"/districts/{district.id}/alerts/new", data=start_fields(last_seen_place="")
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    alert = db.session.scalar(sa.select(Alert))
    assert alert is not None
    assert alert.last_seen_place == "高崎市八幡町123番地付近（八幡公民館の北 約100m）"
