"""Demo data for the reflection session: ended drills of the demo district with walks, steps,
help calls and feedback, so the reflection page, replay, comparison and report have something
to show.

`load_demo_reflection()` runs after `watchnet.demo.load_demo_data()`. It adds two ended twins
of the demo drill (same route, checkpoints, teams and people): 第1回 a week ago, with full data,
and an earlier trial a year ago with slower timings for the comparison. Loading twice changes
nothing: each twin is looked up by its title.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from watchnet.core import geo
from watchnet.core.extensions import db
from watchnet.demo import DEMO_LOGINS, DRILL_TITLE
from watchnet.drills.copying import copy_checkpoint
from watchnet.drills.models import (
    Checkpoint,
    Drill,
    DrillStatus,
    Participant,
    RoutePoint,
    Team,
)
from watchnet.feedback.models import Feedback, GaveNameFirst, Viewpoint
from watchnet.people.models import StaffUser
from watchnet.tracking.models import (
    EncounterStep,
    HelpCall,
    HelpCallResolution,
    HelpResponse,
    PositionReport,
)

PAST_TITLE = "第1回 まち歩き見守り声掛け訓練"
TRIAL_TITLE = "試行 まち歩き見守り声掛け訓練"

WALK_SPEED_MPS = 0.9
POSITION_EVERY_S = 30
STOP_AT_CHECKPOINT_S = 480

# Seconds after noticing, per (team index, checkpoint index); None = the step was not logged.
# Keys: approached_front, gave_own_name, asked_name_or_destination, contacted, handed_over.
PAST_STEPS: dict[tuple[int, int], tuple[int | None, ...]] = {
    (0, 0): (40, 55, 80, 150, 330),
    (0, 1): (35, None, 70, 190, 400),
    (0, 2): (60, 75, 110, 170, 360),
    (1, 0): (75, 90, 120, 240, 420),
    (1, 1): (50, 65, 95, None, 380),
    (1, 2): (45, None, 100, 200, None),
}
TRIAL_STEPS: dict[tuple[int, int], tuple[int | None, ...]] = {
    (0, 0): (90, None, 150, 300, 540),
    (1, 1): (120, 150, None, 330, 600),
}
LATER_KINDS = (
    "approached_front",
    "gave_own_name",
    "asked_name_or_destination",
    "contacted",
    "handed_over",
)

FEEDBACK = [
    (Viewpoint.caller, 0, True, "まず自分の名前を名乗ることが大切だと思った。", 4, "yes", 2, 3),
    (
        Viewpoint.caller,
        1,
        True,
        "電話で現在地を伝えるのが難しかった。目印を覚えておきたい。",
        4,
        "yes",
        2,
        2,
    ),
    (
        Viewpoint.caller,
        None,
        False,
        "一人で対応できるか不安。二人以上で声をかけたい。",
        3,
        "unsure",
        3,
        2,
    ),
    (
        Viewpoint.called,
        0,
        True,
        "正面からゆっくり近づいてくれたので安心できた。",
        5,
        "yes",
        None,
        None,
    ),
    (
        Viewpoint.called,
        1,
        True,
        "後ろから急に声をかけられて驚いた。名乗ってもらえると安心する。",
        2,
        "no",
        None,
        None,
    ),
    (
        Viewpoint.observer,
        None,
        True,
        "どの班も目線を合わせて話しかけていた。連絡先の確認に時間がかかった。",
        4,
        "yes",
        3,
        None,
    ),
    (
        Viewpoint.organizer,
        None,
        True,
        "3サポーターが合同で動けた。現在地の伝え方を次回の講座で扱う。",
        None,
        None,
        None,
        None,
    ),
]


def _route_distances(route: Sequence[tuple[float, float]]) -> list[float]:
    distances = [0.0]
    for a, b in zip(route, route[1:], strict=False):
        distances.append(distances[-1] + geo.haversine_m(a, b))
    return distances


def _point_at(
    route: Sequence[tuple[float, float]], cumulative: list[float], d: float
) -> tuple[float, float]:
    d = max(0.0, min(d, cumulative[-1]))
    for i in range(1, len(route)):
        if d <= cumulative[i]:
            span = cumulative[i] - cumulative[i - 1] or 1.0
            f = (d - cumulative[i - 1]) / span
            return (
                route[i - 1][0] + f * (route[i][0] - route[i - 1][0]),
                route[i - 1][1] + f * (route[i][1] - route[i - 1][1]),
            )
    return route[-1]


def _checkpoint_distance(
    route: Sequence[tuple[float, float]], cumulative: list[float], cp: Checkpoint
) -> float:
    nearest = min(range(len(route)), key=lambda i: geo.haversine_m(route[i], (cp.lat, cp.lon)))
    return cumulative[nearest]


def _twin(source: Drill, title: str, starts_at: datetime) -> Drill:
    drill = Drill(
        district_id=source.district_id,
        title=title,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2, minutes=30),
        meeting_place=source.meeting_place,
        purpose=source.purpose,
        background=source.background,
        status=DrillStatus.ended,
        started_at=starts_at,
        finished_at=starts_at + timedelta(hours=1, minutes=30),
        route_points=[RoutePoint(seq=p.seq, lat=p.lat, lon=p.lon) for p in source.route_points],
        checkpoints=[copy_checkpoint(cp) for cp in source.checkpoints],
    )
    db.session.add(drill)
    db.session.flush()
    teams = {t.id: Team(drill_id=drill.id, name=t.name, color=t.color) for t in source.teams}
    db.session.add_all(teams.values())
    db.session.flush()
    for p in source.participants:
        db.session.add(
            Participant(
                drill_id=drill.id,
                supporter_id=p.supporter_id,
                role=p.role,
                team_id=teams[p.team_id].id if p.team_id in teams else None,
                position_consent_at=starts_at,
            )
        )
    db.session.flush()
    db.session.refresh(drill)
    return drill


def _walk(
    drill: Drill, steps_table: dict[tuple[int, int], tuple[int | None, ...]], with_positions: bool
) -> None:
    """Each team walks the route (members a few metres apart), stopping at each checkpoint,
    and logs the encounter steps of `steps_table`."""
    route = drill.route_latlons
    cumulative = _route_distances(route)
    cp_distances = [_checkpoint_distance(route, cumulative, cp) for cp in drill.checkpoints]
    assert drill.started_at is not None
    for team_index, team in enumerate(drill.teams):
        start = drill.started_at + timedelta(minutes=10 + 6 * team_index)
        members = [p for p in drill.participants if p.team_id == team.id]
        arrivals = []
        # Walking time to a checkpoint plus the stops before it.
        for i, d in enumerate(cp_distances):
            arrivals.append(
                start + timedelta(seconds=d / WALK_SPEED_MPS + i * STOP_AT_CHECKPOINT_S)
            )
        total_s = int(cumulative[-1] / WALK_SPEED_MPS + len(cp_distances) * STOP_AT_CHECKPOINT_S)
        if with_positions:
            for m_index, member in enumerate(members):
                offset = 0.00004 * (m_index - len(members) / 2)
                for n, t in enumerate(range(0, total_s + 1, POSITION_EVERY_S)):
                    walked_s = t - sum(
                        min(max(t - (a - start).total_seconds(), 0), STOP_AT_CHECKPOINT_S)
                        for a in arrivals
                    )
                    lat, lon = _point_at(route, cumulative, walked_s * WALK_SPEED_MPS)
                    db.session.add(
                        PositionReport(
                            drill_id=drill.id,
                            supporter_id=member.supporter_id,
                            client_id=f"demo-p{drill.id}-{n}",
                            lat=lat + offset,
                            lon=lon - offset,
                            accuracy_m=8.0,
                            recorded_at=start + timedelta(seconds=t),
                        )
                    )
        for cp_index, cp in enumerate(drill.checkpoints):
            times = steps_table.get((team_index, cp_index))
            if times is None or not members:
                continue
            noticed = arrivals[cp_index]
            caller = members[cp_index % len(members)]
            kinds = (("noticed", 0),) + tuple(
                (kind, t) for kind, t in zip(LATER_KINDS, times, strict=True) if t is not None
            )
            for kind, t in kinds:
                # The position told on the phone drifts a little from the checkpoint.
                drift = 0.00012 * (team_index + 1) if kind == "contacted" else 0.00003
                db.session.add(
                    EncounterStep(
                        drill_id=drill.id,
                        supporter_id=caller.supporter_id,
                        team_id=team.id,
                        checkpoint_id=cp.id,
                        client_id=f"demo-s{drill.id}-{team.id}-{cp.id}-{kind}",
                        step=kind,
                        lat=cp.lat + drift,
                        lon=cp.lon,
                        accuracy_m=10.0,
                        done_at=noticed + timedelta(seconds=t),
                    )
                )
    db.session.flush()


def _help_call(drill: Drill, organizer: StaffUser | None) -> None:
    team = drill.teams[-1]
    members = [p for p in drill.participants if p.team_id == team.id]
    if not members or drill.started_at is None:
        return
    cp = drill.checkpoints[-1]
    called = drill.started_at + timedelta(minutes=62)
    call = HelpCall(
        drill_id=drill.id,
        supporter_id=members[0].supporter_id,
        client_id=f"demo-h{drill.id}",
        lat=cp.lat,
        lon=cp.lon,
        accuracy_m=10.0,
        sentence=f"{cp.name}の近くにいます",
        called_at=called,
        resolved_at=called + timedelta(minutes=6),
        resolution=HelpCallResolution.caller_ok,
        resolved_by=f"supporter:{members[0].supporter_id}",
        resolved_by_name=members[0].supporter.name[:100],
    )
    db.session.add(call)
    db.session.flush()
    if organizer is not None:
        db.session.add(
            HelpResponse(
                help_call_id=call.id,
                responder=f"staff:{organizer.id}",
                responder_name=organizer.name,
                answered_at=called + timedelta(seconds=95),
            )
        )
    helper = members[1] if len(members) > 1 else None
    if helper is not None:
        db.session.add(
            HelpResponse(
                help_call_id=call.id,
                responder=f"supporter:{helper.supporter_id}",
                responder_name=helper.supporter.name,
                answered_at=called + timedelta(seconds=140),
            )
        )


def _feedback(drill: Drill, organizer: StaffUser | None) -> None:
    walkers = [p for p in drill.participants if p.team_id is not None]
    observers = [p for p in drill.participants if p.team_id is None]
    for n, (viewpoint, team_index, chosen, text, safe, name_first, ease, alone) in enumerate(
        FEEDBACK
    ):
        team = drill.teams[team_index] if team_index is not None else None
        supporter_id = None
        if viewpoint == Viewpoint.caller:
            pool = [p for p in walkers if team is None or p.team_id == team.id] or walkers
            supporter_id = pool[n % len(pool)].supporter_id if pool else None
        elif viewpoint == Viewpoint.observer and observers:
            supporter_id = observers[0].supporter_id
        staff_id = organizer.id if organizer is not None and supporter_id is None else None
        if supporter_id is None and staff_id is None:
            continue
        db.session.add(
            Feedback(
                drill_id=drill.id,
                supporter_id=supporter_id,
                staff_id=staff_id,
                viewpoint=viewpoint,
                team_id=team.id if team is not None else None,
                safe_approach=safe,
                gave_name_first=GaveNameFirst(name_first) if name_first else None,
                location_ease=ease,
                confidence_alone=alone,
                text=text,
                is_quote_chosen=chosen,
                client_id=f"demo-f{drill.id}-{n}",
                created_at=(drill.finished_at or drill.starts_at) + timedelta(minutes=10 + n),
            )
        )


def load_demo_reflection() -> bool:
    """Add the ended twins of the demo drill; True if anything was created."""
    source = db.session.scalar(sa.select(Drill).where(Drill.title == DRILL_TITLE))
    if source is None:
        return False
    organizer = db.session.scalar(
        sa.select(StaffUser).where(StaffUser.email == DEMO_LOGINS["organizer"][0])
    )
    tokyo = ZoneInfo("Asia/Tokyo")
    today = datetime.now(tokyo).date()
    created = False
    for title, days_ago, table, full in (
        (TRIAL_TITLE, 365, TRIAL_STEPS, False),
        (PAST_TITLE, 7, PAST_STEPS, True),
    ):
        exists = db.session.scalar(
            sa.select(Drill.id).where(Drill.district_id == source.district_id, Drill.title == title)
        )
        if exists:
            continue
        day = today - timedelta(days=days_ago)
        starts = datetime(day.year, day.month, day.day, 9, 30, tzinfo=tokyo).astimezone(UTC)
        drill = _twin(source, title, starts)
        _walk(drill, table, with_positions=full)
        if full:
            _help_call(drill, organizer)
            _feedback(drill, organizer)
        created = True
    db.session.flush()
    return created
