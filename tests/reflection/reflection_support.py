"""A drill with known timestamps for the reflection tests (conftest.py re-exports the fixtures);
every expected value is written next to the row that produces it, so the tests compare
against figures computed by hand."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from watchnet.core.extensions import db
from watchnet.core.geo import EARTH_RADIUS_M
from watchnet.drills.models import DrillStatus, Participant, ParticipantRole, Team
from watchnet.tracking.models import EncounterStep, HelpCall, HelpResponse, PositionReport

T0 = datetime(2026, 3, 1, 1, 0, 0, tzinfo=UTC)  # 10:00 in Tokyo
CP1 = (36.3340, 138.9461)
CP2 = (36.3360, 138.9480)


def north_of(point: tuple[float, float], dlat: float) -> tuple[float, float]:
    return point[0] + dlat, point[1]


def metres_for_dlat(dlat: float) -> float:
    """Along a meridian the great-circle distance is R · Δφ (exact on the sphere)."""
    return EARTH_RADIUS_M * math.radians(dlat)


@dataclass
class KnownDrill:
    drill: Any
    cp1: Any
    cp2: Any
    team_a: Any
    team_b: Any
    a1: Any
    a2: Any
    b1: Any
    c1: Any


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture()
def known_drill(
    district: Any, make_drill: Callable[..., Any], make_supporter: Callable[..., Any]
) -> KnownDrill:
    drill = make_drill(
        district,
        title="振り返り訓練",
        starts_at=at(-600),
        status=DrillStatus.ended,
        started_at=at(-300),
        finished_at=at(3600),
        checkpoints=[
            {
                "name": "ポイント1 公民館前",
                "lat": CP1[0],
                "lon": CP1[1],
                "checklist": ["前から近づく", "自分から名乗る"],
            },
            {"name": "ポイント2 神社", "lat": CP2[0], "lon": CP2[1]},
        ],
    )
    cp1, cp2 = drill.checkpoints
    team_a = Team(drill_id=drill.id, name="A班", color="#0072b2")
    team_b = Team(drill_id=drill.id, name="B班", color="#d55e00")
    db.session.add_all([team_a, team_b])
    db.session.flush()
    a1 = make_supporter(district, name="青木 一郎", kind="community_supporter")
    a2 = make_supporter(district, name="青木 二郎", kind="dementia_supporter")
    b1 = make_supporter(district, name="馬場 三郎", kind="community_supporter")
    c1 = make_supporter(district, name="千葉 四郎", kind="care_manager")  # invited, never active
    for person, team in ((a1, team_a), (a2, team_a), (b1, team_b), (c1, None)):
        db.session.add(
            Participant(
                drill_id=drill.id,
                supporter_id=person.id,
                team_id=team.id if team else None,
                role=ParticipantRole.walker,
            )
        )
    counter = iter(range(1, 1000))

    def step(
        person: Any,
        team: Any,
        cp: Any,
        kind: str,
        seconds: float,
        pos: tuple[float, float] | None = None,
        corrects: Any = None,
    ) -> EncounterStep:
        row = EncounterStep(
            drill_id=drill.id,
            supporter_id=person.id,
            team_id=team.id if team else None,
            checkpoint_id=cp.id if cp else None,
            client_id=f"c{next(counter)}",
            step=kind,
            done_at=at(seconds),
            lat=pos[0] if pos else None,
            lon=pos[1] if pos else None,
            corrects_id=corrects.id if corrects else None,
        )
        db.session.add(row)
        db.session.flush()
        return row

    # Team A at checkpoint 1: approach 45 s, contact 130 s, hand-over 300 s; the contacted
    # step's position is 0.00045° north of the checkpoint (≈ 50.04 m).
    step(a1, team_a, cp1, "noticed", 0, north_of(CP1, 0.0009))
    step(a2, team_a, cp1, "noticed", 20)  # a later "noticed": the earliest one counts
    step(a1, team_a, cp1, "approached_front", 45)
    step(a1, team_a, cp1, "gave_own_name", 60)
    step(a2, team_a, cp1, "contacted", 130, north_of(CP1, 0.00045))
    step(a1, team_a, cp1, "handed_over", 300)
    # Team A at checkpoint 2: approached logged at +700, corrected twice, last to +660: 60 s.
    # Contacted and handed over are missing; no step has a position.
    step(a1, team_a, cp2, "noticed", 600)
    original = step(a1, team_a, cp2, "approached_front", 700)
    step(a1, team_a, cp2, "approached_front", 680, corrects=original)
    step(a1, team_a, cp2, "approached_front", 660, corrects=original)
    # Team B at checkpoint 1: approach 90 s, contact missing, hand-over 360 s; noticed exactly
    # at the checkpoint (location error 0 m, from the first step with a position).
    step(b1, team_b, cp1, "noticed", 100, CP1)
    step(b1, team_b, cp1, "approached_front", 190)
    step(b1, team_b, cp1, "handed_over", 460)
    step(b1, team_b, None, "noticed", 900)  # no checkpoint: not an encounter

    # Help calls: b1's first answer after 50 s (two answers); a1's call never answered.
    call_b = HelpCall(
        drill_id=drill.id,
        supporter_id=b1.id,
        client_id="h1",
        lat=CP1[0],
        lon=CP1[1],
        called_at=at(200),
    )
    call_a = HelpCall(
        drill_id=drill.id,
        supporter_id=a1.id,
        client_id="h2",
        lat=CP2[0],
        lon=CP2[1],
        called_at=at(800),
    )
    db.session.add_all([call_b, call_a])
    db.session.flush()
    db.session.add_all(
        [
            HelpResponse(
                help_call_id=call_b.id,
                responder=f"supporter:{a2.id}",
                responder_name=a2.name,
                answered_at=at(290),
            ),
            HelpResponse(
                help_call_id=call_b.id,
                responder="staff:1",
                responder_name="職員",
                answered_at=at(250),
            ),
        ]
    )
    for i in range(3):
        db.session.add(
            PositionReport(
                drill_id=drill.id,
                supporter_id=a1.id,
                client_id=f"p{i}",
                lat=CP1[0] + i * 0.0001,
                lon=CP1[1],
                recorded_at=at(i * 60),
            )
        )
    db.session.commit()
    return KnownDrill(drill, cp1, cp2, team_a, team_b, a1, a2, b1, c1)


@pytest.fixture()
def previous_drill(
    district: Any,
    make_drill: Callable[..., Any],
    make_supporter: Callable[..., Any],
    known_drill: KnownDrill,
) -> Any:
    """The district's previous ended drill: one team took 10:00 from noticing to hand-over."""
    drill = make_drill(
        district,
        title="前回の訓練",
        starts_at=at(-86400 * 60),
        status=DrillStatus.ended,
        checkpoints=[{"name": "前回ポイント", "lat": CP1[0], "lon": CP1[1]}],
    )
    team = Team(drill_id=drill.id, name="前回班")
    db.session.add(team)
    db.session.flush()
    person = make_supporter(district, name="前回 太郎")
    db.session.add(Participant(drill_id=drill.id, supporter_id=person.id, team_id=team.id))
    cp = drill.checkpoints[0]
    for i, (kind, seconds) in enumerate(
        (("noticed", 0), ("approached_front", 120), ("handed_over", 600))
    ):
        db.session.add(
            EncounterStep(
                drill_id=drill.id,
                supporter_id=person.id,
                team_id=team.id,
                checkpoint_id=cp.id,
                client_id=f"prev{i}",
                step=kind,
                done_at=at(-86400 * 60 + seconds),
            )
        )
    # A planned older drill and an ended drill after this one are not "previous".
    make_drill(district, title="計画中の訓練", starts_at=at(-86400 * 30))
    make_drill(district, title="後の訓練", starts_at=at(86400 * 30), status=DrillStatus.ended)
    db.session.commit()
    return drill
