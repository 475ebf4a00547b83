"""Planning a drill from a past one: most districts walk the same route every year with the
same role-play scenarios, so a copy carries the route, the checkpoints with their scenarios,
expected contacts and checklists, and optionally the teams and who walks in them."""

from __future__ import annotations

from dataclasses import replace

import sqlalchemy as sa

from watchnet.audit.services import record_audit
from watchnet.core.extensions import db
from watchnet.drills.models import Checkpoint, Drill, DrillStatus, Participant, RoutePoint, Team
from watchnet.drills.services import DrillFields, plan_drill
from watchnet.people.models import StaffUser, Supporter


def copy_drill(
    source: Drill,
    fields: DrillFields,
    *,
    with_teams: bool,
    created_by: StaffUser | None = None,
) -> Drill:
    """A new planned drill with `fields` (title, date, times ...) and the plan of `source`.
    With `with_teams`, the teams and their members come along (only supporters still active;
    each confirms position sharing again on the day). The caller commits."""
    drill = plan_drill(replace(fields, status=DrillStatus.planned), created_by=created_by)
    for point in sorted(source.route_points, key=lambda p: p.seq):
        db.session.add(RoutePoint(drill_id=drill.id, seq=point.seq, lat=point.lat, lon=point.lon))
    for cp in sorted(source.checkpoints, key=lambda c: (c.seq, c.id)):
        db.session.add(
            Checkpoint(
                drill_id=drill.id,
                seq=cp.seq,
                name=cp.name,
                lat=cp.lat,
                lon=cp.lon,
                role_player=cp.role_player,
                scenario_wear=cp.scenario_wear,
                scenario_say=cp.scenario_say,
                scenario_do=cp.scenario_do,
                expected_contact=cp.expected_contact,
                expected_contact_note=cp.expected_contact_note,
                checklist=list(cp.checklist or []),
            )
        )
    copied_people = 0
    if with_teams:
        team_of: dict[int, int] = {}
        for team in sorted(source.teams, key=lambda t: t.id):
            twin = Team(drill_id=drill.id, name=team.name, color=team.color)
            db.session.add(twin)
            db.session.flush()
            team_of[team.id] = twin.id
        active = set(
            db.session.scalars(
                sa.select(Participant.supporter_id)
                .join(Supporter, Supporter.id == Participant.supporter_id)
                .where(Participant.drill_id == source.id, Supporter.is_active.is_(True))
            )
        )
        for p in sorted(source.participants, key=lambda p: p.id):
            if p.supporter_id in active:
                db.session.add(
                    Participant(
                        drill_id=drill.id,
                        supporter_id=p.supporter_id,
                        team_id=team_of.get(p.team_id) if p.team_id else None,
                        role=p.role,
                    )
                )
                copied_people += 1
    db.session.flush()
    record_audit(
        "drill.copied",
        "drill",
        drill.id,
        drill.district_id,
        source_drill_id=source.id,
        teams=with_teams,
        participants=copied_people,
    )
    return drill
