"""Use cases for a drill's teams and participants, and the data of the printed team handout.

Every function that changes rows flushes and leaves the commit to the caller.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import abort, current_app
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from watchnet.audit.services import record_audit
from watchnet.auth.services import signin_url
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.validation import clean_line, normalise_name
from watchnet.drills.models import Checkpoint, Drill, Participant, ParticipantRole, Team
from watchnet.maps.builders import (
    MapParts,
    TileSettings,
    add_checkpoints,
    add_landmarks,
    add_route,
    fit_to,
    new_map,
    render_parts,
)
from watchnet.people.models import Supporter, SupporterKind
from watchnet.people.qr import qr_svg

TEAM_NAME_MAX = 100  # matches Team.name

# Team colours: each keeps at least 4.5:1 contrast with white text, and a team is always shown
# with its name beside the colour, so nobody has to tell teams apart by colour alone.
TEAM_COLORS: list[tuple[str, LazyString]] = [
    ("#0b5cad", _l("Blue")),
    ("#b3261e", _l("Red")),
    ("#1d6b35", _l("Green")),
    ("#6a3d9a", _l("Purple")),
    ("#a14f00", _l("Orange")),
    ("#00676b", _l("Teal")),
    ("#b8006b", _l("Magenta")),
    ("#333333", _l("Dark grey")),
]
TEAM_COLOR_VALUES = frozenset(value for value, _label in TEAM_COLORS)

# The kinds of supporter that took part in the Yawata drill: always counted on the teams page.
FEATURED_KINDS: tuple[SupporterKind, ...] = (
    SupporterKind.community_supporter,
    SupporterKind.care_prevention_supporter,
    SupporterKind.dementia_supporter,
    SupporterKind.care_manager,
)
_KIND_ORDER = {kind: i for i, kind in enumerate(SupporterKind)}


# ---------------------------------------------------------------------------------------------
# Reading


@dataclass
class TeamOverview:
    """Everything the teams page shows, loaded up front so the template walks no relationships."""

    drill: Drill
    teams: list[Team]
    members: dict[int, list[Participant]]
    unassigned: list[Participant]
    uninvited: list[Supporter]
    kind_counts: list[tuple[SupporterKind, int]]
    team_kind_counts: dict[int, list[tuple[SupporterKind, int]]] = field(default_factory=dict)

    @property
    def uninvited_by_kind(self) -> list[tuple[SupporterKind, list[Supporter]]]:
        """Supporters still to invite, grouped by kind in the glossary's order."""
        groups: dict[SupporterKind, list[Supporter]] = {}
        for supporter in self.uninvited:
            groups.setdefault(supporter.kind, []).append(supporter)
        return sorted(groups.items(), key=lambda item: _KIND_ORDER[item[0]])

    @property
    def participant_count(self) -> int:
        return sum(len(m) for m in self.members.values()) + len(self.unassigned)


def _participants_query(drill: Drill) -> sa.Select[Participant]:
    return (
        sa.select(Participant)
        .join(Supporter, Supporter.id == Participant.supporter_id)
        .where(Participant.drill_id == drill.id)
        .options(selectinload(Participant.supporter))
        .order_by(Supporter.name_kana, Supporter.name, Participant.id)
    )


def _kind_counts(participants: Iterable[Participant]) -> list[tuple[SupporterKind, int]]:
    """Counts per supporter kind: the featured kinds always, the others when present."""
    counts = Counter(p.supporter.kind for p in participants)
    return [
        (kind, counts.get(kind, 0))
        for kind in SupporterKind
        if kind in FEATURED_KINDS or counts.get(kind, 0)
    ]


def load_team_overview(drill: Drill) -> TeamOverview:
    """The drill's teams with their members, unassigned participants and uninvited supporters."""
    teams = list(
        db.session.scalars(sa.select(Team).where(Team.drill_id == drill.id).order_by(Team.id))
    )
    participants = list(db.session.scalars(_participants_query(drill)))
    members: dict[int, list[Participant]] = {team.id: [] for team in teams}
    unassigned: list[Participant] = []
    for p in participants:
        if p.team_id is not None and p.team_id in members:
            members[p.team_id].append(p)
        else:
            unassigned.append(p)
    invited = sa.select(Participant.supporter_id).where(Participant.drill_id == drill.id)
    uninvited = list(
        db.session.scalars(
            sa.select(Supporter)
            .where(
                Supporter.district_id == drill.district_id,
                Supporter.is_active.is_(True),
                Supporter.id.not_in(invited),
            )
            .order_by(Supporter.name_kana, Supporter.name, Supporter.id)
        )
    )
    uninvited.sort(key=lambda s: _KIND_ORDER[s.kind])  # stable: by kind, then by kana
    return TeamOverview(
        drill=drill,
        teams=teams,
        members=members,
        unassigned=unassigned,
        uninvited=uninvited,
        kind_counts=_kind_counts(participants),
        team_kind_counts={
            tid: [(k, n) for k, n in _kind_counts(ms) if n] for tid, ms in members.items()
        },
    )


def get_team_or_404(drill: Drill, team_id: int) -> Team:
    """The team of this drill with that id; 404 for any other id (another drill's included)."""
    team = db.session.get(Team, team_id)
    if team is None or team.drill_id != drill.id:
        abort(404)
    return team


def get_participant_or_404(drill: Drill, participant_id: int) -> Participant:
    """The participant of this drill with that id; 404 otherwise."""
    participant = db.session.get(Participant, participant_id)
    if participant is None or participant.drill_id != drill.id:
        abort(404)
    return participant


# ---------------------------------------------------------------------------------------------
# Changing


def _clean_team_name(drill: Drill, name: str, team: Team | None = None) -> str:
    name = " ".join(clean_line(name or "").split())
    if not name:
        raise UserInputError(gettext("Please enter a team name."), "name")
    if len(name) > TEAM_NAME_MAX:
        raise UserInputError(gettext("Use at most %(n)d characters.", n=TEAM_NAME_MAX), "name")
    # Compared in normalised form (NFKC, spaces, invisible characters), as landmarks are.
    others = sa.select(Team.name).where(Team.drill_id == drill.id)
    if team is not None:
        others = others.where(Team.id != team.id)
    key = normalise_name(name)
    if any(normalise_name(other) == key for other in db.session.scalars(others)):
        raise UserInputError(gettext("This drill already has a team with that name."), "name")
    return name


def _check_color(color: str) -> str:
    if color not in TEAM_COLOR_VALUES:
        raise UserInputError(gettext("Please choose one of the listed colours."), "color")
    return color


def create_team(drill: Drill, name: str, color: str) -> Team:
    """Add a team to the drill; the name is unique within the drill."""
    team = Team(drill_id=drill.id, name=_clean_team_name(drill, name), color=_check_color(color))
    db.session.add(team)
    db.session.flush()
    record_audit(
        "team.created", "team", team.id, drill.district_id, drill_id=drill.id, name=team.name
    )
    return team


def update_team(team: Team, name: str, color: str) -> Team:
    """Rename or recolour a team. A colour from before the palette may be kept as it is."""
    drill = team.drill
    team.name = _clean_team_name(drill, name, team)
    team.color = color if color == team.color else _check_color(color)
    db.session.flush()
    record_audit(
        "team.updated",
        "team",
        team.id,
        drill.district_id,
        drill_id=drill.id,
        name=team.name,
        color=team.color,
    )
    return team


def delete_team(team: Team) -> None:
    """Delete a team; its members stay invited, without a team."""
    drill = team.drill
    db.session.execute(
        sa.update(Participant).where(Participant.team_id == team.id).values(team_id=None)
    )
    record_audit(
        "team.deleted", "team", team.id, drill.district_id, drill_id=drill.id, name=team.name
    )
    db.session.delete(team)
    db.session.flush()
    db.session.expire_all()


def invite_supporters(drill: Drill, supporter_ids: Sequence[int]) -> list[Participant]:
    """Invite active supporters of the drill's district; all or nothing.

    Supporters already invited are skipped, so a form sent twice does no harm. An id that is not
    an active supporter of this district refuses the whole invitation.
    """
    wanted = set(supporter_ids)
    if not wanted:
        raise UserInputError(gettext("Please choose at least one supporter."), "supporter_ids")
    found = {
        s.id: s
        for s in db.session.scalars(
            sa.select(Supporter).where(
                Supporter.id.in_(wanted),
                Supporter.district_id == drill.district_id,
                Supporter.is_active.is_(True),
            )
        )
    }
    if set(found) != wanted:
        raise UserInputError(
            gettext("Some of the chosen supporters cannot be invited to this drill."),
            "supporter_ids",
        )
    already = set(
        db.session.scalars(
            sa.select(Participant.supporter_id).where(
                Participant.drill_id == drill.id, Participant.supporter_id.in_(wanted)
            )
        )
    )
    added = [
        Participant(drill_id=drill.id, supporter_id=sid, role=ParticipantRole.walker)
        for sid in sorted(wanted - already)
    ]
    db.session.add_all(added)
    db.session.flush()
    if added:
        record_audit(
            "drill.supporters_invited",
            "drill",
            drill.id,
            drill.district_id,
            supporter_ids=[p.supporter_id for p in added],
        )
    return added


def assign_participant(
    participant: Participant, team: Team | None, role: ParticipantRole | str
) -> Participant:
    """Put a participant in a team of the same drill (or none) with a role."""
    if team is not None and team.drill_id != participant.drill_id:
        raise UserInputError(gettext("That team belongs to another drill."), "team_id")
    try:
        participant.role = ParticipantRole(role)
    except ValueError as exc:
        raise UserInputError(gettext("Please choose one of the listed roles."), "role") from exc
    participant.team_id = team.id if team is not None else None
    db.session.flush()
    record_audit(
        "participant.assigned",
        "participant",
        participant.id,
        participant.drill.district_id,
        drill_id=participant.drill_id,
        team_id=participant.team_id,
        role=str(participant.role),
    )
    return participant


def remove_participant(participant: Participant) -> None:
    """Take a supporter off the drill (the supporter's registration stays)."""
    drill = participant.drill
    record_audit(
        "participant.removed",
        "participant",
        participant.id,
        drill.district_id,
        drill_id=drill.id,
        supporter_id=participant.supporter_id,
    )
    db.session.delete(participant)
    db.session.flush()


def balance_teams(drill: Drill) -> int:
    """Deal the walkers over the teams so that each team mixes the kinds of supporter.

    Walkers are lined up kind by kind and dealt round-robin, continuing from team to team
    across kinds, so team sizes differ by at most one and each kind is spread evenly. Observers
    and role-players keep their places. Returns the number of walkers dealt.
    """
    teams = list(
        db.session.scalars(sa.select(Team).where(Team.drill_id == drill.id).order_by(Team.id))
    )
    if not teams:
        raise UserInputError(gettext("Create a team first."), "teams")
    walkers = [
        p
        for p in db.session.scalars(_participants_query(drill))
        if p.role == ParticipantRole.walker
    ]
    walkers.sort(key=lambda p: _KIND_ORDER[p.supporter.kind])  # stable: kana order within kind
    for i, participant in enumerate(walkers):
        participant.team_id = teams[i % len(teams)].id
    db.session.flush()
    record_audit(
        "drill.teams_balanced",
        "drill",
        drill.id,
        drill.district_id,
        walkers=len(walkers),
        teams=len(teams),
    )
    return len(walkers)


# ---------------------------------------------------------------------------------------------
# The printed handout


@dataclass(frozen=True)
class HandoutMember:
    participant_id: int
    name: str
    name_kana: str
    kind: SupporterKind
    role: ParticipantRole
    signin_url: str
    qr_svg: Markup


@dataclass(frozen=True)
class TeamHandout:
    team: Team
    members: list[HandoutMember]
    map_parts: MapParts


@dataclass(frozen=True)
class HandoutSet:
    drill: Drill
    checkpoints: list[Checkpoint]
    handouts: list[TeamHandout]


def tile_settings() -> TileSettings:
    """The configured tile source (GSI by default)."""
    cfg = current_app.config
    return TileSettings(
        url=cfg["TILE_URL"],
        attribution=cfg["TILE_ATTRIBUTION"],
        max_zoom=int(cfg.get("TILE_MAX_ZOOM", 18)),
    )


def build_handout_map(drill: Drill) -> MapParts:
    """The print map: route, numbered checkpoints and landmarks, without interactive controls."""
    route = drill.route_latlons
    cps = list(drill.checkpoints)
    points = route + [(cp.lat, cp.lon) for cp in cps]
    center = points[0] if points else (drill.district.center_lat, drill.district.center_lon)
    m = new_map(center, tile_settings())
    # Paper cannot be zoomed or dragged; the zoom buttons would only cover part of the map.
    m.options.update(
        zoom_control=False,
        dragging=False,
        scroll_wheel_zoom=False,
        double_click_zoom=False,
        touch_zoom=False,
        box_zoom=False,
        keyboard=False,
    )
    add_landmarks(m, drill.district.landmarks)
    add_route(m, route)
    add_checkpoints(m, [(i, cp.name, cp.lat, cp.lon) for i, cp in enumerate(cps, start=1)])
    fit_to(m, points)
    return render_parts(m)


def _handout_members(team: Team) -> list[HandoutMember]:
    participants = db.session.scalars(
        _participants_query(team.drill).where(Participant.team_id == team.id)
    )
    members = []
    for p in participants:
        url = signin_url(p.supporter)
        members.append(
            HandoutMember(
                participant_id=p.id,
                name=p.supporter.name,
                name_kana=p.supporter.name_kana,
                kind=p.supporter.kind,
                role=p.role,
                signin_url=url,
                qr_svg=qr_svg(url),
            )
        )
    return members


def build_handouts(drill: Drill, teams: Sequence[Team]) -> HandoutSet:
    """One handout per team, each with its own map. They carry every member's personal
    sign-in link: the views record each one shown (teams/views.py, an audited read)."""
    handouts = []
    for team in teams:
        members = _handout_members(team)
        handouts.append(TeamHandout(team=team, members=members, map_parts=build_handout_map(drill)))
    return HandoutSet(drill=drill, checkpoints=list(drill.checkpoints), handouts=handouts)


def all_teams(drill: Drill) -> list[Team]:
    """The drill's teams in the order they were made."""
    return list(
        db.session.scalars(sa.select(Team).where(Team.drill_id == drill.id).order_by(Team.id))
    )
