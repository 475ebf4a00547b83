"""The position endpoint checks the sign-in link without loading the supporter: a revoked link
or a deactivated supporter is refused all the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from watchnet.auth.services import revoke_signin_token
from watchnet.core.extensions import db
from watchnet.drills.models import DrillStatus, Participant
from watchnet.tracking.models import PositionReport


def _report(client, drill_id, client_id):
    return client.post(
        f"/field/drills/{drill_id}/positions",
        json={
            "positions": [
                {
                    "client_id": client_id,
                    "lat": 36.3335,
                    "lon": 138.9455,
                    "accuracy_m": 5,
                    "recorded_at": datetime.now(UTC).isoformat(),
                }
            ]
        },
    )


def _live_drill_with(district, supporter, make_drill):
    drill = make_drill(
        district, status=DrillStatus.live, starts_at=datetime.now(UTC) - timedelta(minutes=5)
    )
    db.session.add(
        Participant(
            drill_id=drill.id, supporter_id=supporter.id, position_consent_at=datetime.now(UTC)
        )
    )
    db.session.commit()
    return drill


def test_a_revoked_link_stops_position_reports_at_once(
    district, supporter, make_drill, supporter_client
):
    drill = _live_drill_with(district, supporter, make_drill)
    assert _report(supporter_client, drill.id, "before-revoke-1").status_code == 200
    revoke_signin_token(supporter)
    db.session.commit()
    refused = _report(supporter_client, drill.id, "after-revoke-1")
    assert refused.status_code == 403
    assert refused.is_json
    assert db.session.scalars(sa.select(PositionReport.client_id)).all() == ["before-revoke-1"]


def test_a_deactivated_supporter_cannot_report_positions(
    district, supporter, make_drill, supporter_client
):
    drill = _live_drill_with(district, supporter, make_drill)
    supporter.is_active = False
    db.session.commit()
    assert _report(supporter_client, drill.id, "inactive-0001").status_code == 403


def test_staff_and_anonymous_visitors_cannot_report_positions(
    district, supporter, make_drill, organizer_client, client
):
    drill = _live_drill_with(district, supporter, make_drill)
    assert _report(organizer_client, drill.id, "staff-000001").status_code == 403
    assert _report(client, drill.id, "anon-0000001").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PositionReport)) == 0
