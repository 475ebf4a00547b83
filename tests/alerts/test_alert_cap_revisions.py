"""Every change of the CAP area is a new CAP message: the services that move the circle
(a radius typed by the coordinator, clearing it, widening by the schedule, "widen now",
re-centring on a sighting) and closing, each exported and checked against the OASIS schema.
A message that repeated the identifier and `sent` of an earlier one with another circle would
be dropped by receivers as a duplicate, and they would keep searching the old area."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import xmlschema
from alert_core_support import ago, alert_input, point_at
from alert_exports_support import XSD, parse, text

from watchnet.alerts.exports.cap import build_cap
from watchnet.alerts.models import Alert, AlertEvent, AlertStatus, Sighting, SightingStatus
from watchnet.alerts.services import (
    close_alert,
    override_radius,
    recentre_alert,
    review_sighting,
    start_alert,
    widen_alert,
    widen_to_next_ring,
)
from watchnet.core.extensions import db

SENDER = "watchnet@city.example.jp"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


class Exports:
    """The alert's CAP message after each step, validated as it is taken."""

    def __init__(self, alert: Any, schema: xmlschema.XMLSchema) -> None:
        self.alert, self.schema = alert, schema
        self.messages: list[Any] = []
        self.take()

    def take(self) -> Any:
        db.session.commit()
        body = build_cap(self.alert, sender=SENDER)
        errors = list(self.schema.iter_errors(body.decode("utf-8")))
        assert errors == [], errors[0]
        root = parse(body)
        self.messages.append(root)
        return root

    @staticmethod
    def ref(root: Any) -> str:
        return ",".join(text(root, f"cap:{n}") for n in ("sender", "identifier", "sent"))

    def circle_km(self, root: Any) -> str:
        return text(root, "cap:info/cap:area/cap:circle").rpartition(" ")[2]

    def assert_new_update(self) -> Any:
        """The newest message is an Update unlike every earlier one, naming all of them."""
        *earlier, last = self.messages
        assert text(last, "cap:msgType") == "Update"
        assert text(last, "cap:identifier") not in {text(m, "cap:identifier") for m in earlier}
        # CAP times compare as strings here: the same offset throughout.
        assert text(last, "cap:sent") > max(text(m, "cap:sent") for m in earlier)
        assert text(last, "cap:references").split(" ") == [self.ref(m) for m in earlier]
        assert text(last, "cap:incidents") == text(earlier[0], "cap:incidents")
        return last


def test_shrinking_and_clearing_the_override_are_new_messages(
    district: Any, coordinator: Any, schema: Any
) -> None:
    alert = start_alert(district, coordinator, alert_input(minutes_ago=5))
    cap = Exports(alert, schema)
    first = cap.messages[0]
    assert text(first, "cap:msgType") == "Alert" and cap.circle_km(first) == "1.200"

    override_radius(alert, 800, coordinator)  # straight after the start: the same second
    shrunk = cap.take()
    cap.assert_new_update()
    assert cap.circle_km(shrunk) == "0.800"
    assert text(shrunk, "cap:references") == cap.ref(first)

    # Typing the radius the search already has changes no area: the same message again.
    override_radius(alert, 800, coordinator)
    assert cap.ref(cap.take()) == cap.ref(shrunk)
    cap.messages.pop()

    override_radius(alert, None, coordinator)  # back to the schedule: 1.2 km
    cleared = cap.take()
    cap.assert_new_update()
    assert cap.circle_km(cleared) == "1.200"

    # An override above the schedule, then cleared: the schedule's (smaller) circle again.
    override_radius(alert, 3000, coordinator)
    assert cap.circle_km(cap.take()) == "3.000"
    cap.assert_new_update()
    override_radius(alert, None, coordinator)
    assert cap.circle_km(cap.take()) == "1.200"
    cap.assert_new_update()
    assert alert.revision == 5

    close_alert(alert, outcome=AlertStatus.found, actor=coordinator)
    cancel = cap.take()
    assert text(cancel, "cap:msgType") == "Cancel"
    assert text(cancel, "cap:sent") > text(cap.messages[-2], "cap:sent")
    assert text(cancel, "cap:references").split(" ") == [cap.ref(m) for m in cap.messages[:-1]]


def test_widening_widen_now_and_recentring_are_new_messages(
    district: Any, coordinator: Any, schema: Any
) -> None:
    alert = start_alert(district, coordinator, alert_input(minutes_ago=5))
    cap = Exports(alert, schema)
    widen_alert(alert, now=alert.last_seen_at + timedelta(minutes=31))  # the schedule's ring
    assert cap.circle_km(cap.take()) == "1.600"
    cap.assert_new_update()

    widen_to_next_ring(alert, 3000.0, coordinator)  # "widen now"
    assert cap.circle_km(cap.take()) == "3.000"
    cap.assert_new_update()

    lat, lon = point_at(900)
    sighting = Sighting(alert_id=alert.id, client_id="s-1", seen_at=ago(1), lat=lat, lon=lon)
    db.session.add(sighting)
    db.session.commit()
    review_sighting(sighting, SightingStatus.confirmed, coordinator)
    recentre_alert(alert, sighting, coordinator)
    moved = cap.take()
    cap.assert_new_update()
    assert text(moved, "cap:info/cap:area/cap:circle").startswith(f"{lat:.6f},{lon:.6f} ")

    close_alert(alert, outcome=AlertStatus.cancelled, actor=coordinator)
    cancel = cap.take()
    assert text(cancel, "cap:msgType") == "Cancel"
    assert text(cancel, "cap:references").split(" ")[-1] == cap.ref(moved)


def test_an_override_that_loses_the_revision_to_a_widening_still_gets_its_own(
    district: Any, coordinator: Any, schema: Any
) -> None:
    alert = start_alert(district, coordinator, alert_input(minutes_ago=5))
    cap = Exports(alert, schema)
    # Another process widened (revision 2, 1.6 km) after this one read the alert.
    db.session.execute(
        sa.update(Alert)
        .where(Alert.id == alert.id)
        .values(revision=2, radius_m=1600.0)
        .execution_options(synchronize_session=False)
    )
    db.session.add(
        AlertEvent(alert_id=alert.id, kind="widened", payload={"revision": 2, "radius_m": 1600.0})
    )
    assert alert.revision == 1  # this process has not seen it
    override_radius(alert, 3000, coordinator)
    db.session.commit()
    assert alert.revision == 3 and alert.radius_m == 3000
    root = cap.take()
    assert text(root, "cap:identifier").endswith("-3") and cap.circle_km(root) == "3.000"
