"""The facts of a drill for the reflection page and the report: loads what was logged from the
database and hands plain records to watchnet.reflection.timings."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from watchnet.core.extensions import db
from watchnet.core.timefmt import format_duration
from watchnet.drills.models import Drill, DrillStatus, Participant
from watchnet.reflection import timings
from watchnet.reflection.charts import timings_chart_svg
from watchnet.reflection.timings import (
    CheckpointRecord,
    EncounterTiming,
    HelpCallRecord,
    HelpCallTiming,
    KindParticipation,
    NoteRecord,
    ParticipantRecord,
    PositionRecord,
    StepRecord,
    TeamRecord,
    TimingSummary,
)
from watchnet.tracking.models import EncounterNote, EncounterStep, HelpCall, PositionReport


@dataclass(frozen=True)
class DrillRecords:
    """Everything logged in one drill, as plain records."""

    checkpoints: list[CheckpointRecord]
    teams: list[TeamRecord]
    steps: list[StepRecord]
    help_calls: list[HelpCallRecord]
    participants: list[ParticipantRecord]
    supporter_names: dict[int, str]
    position_count: int
    positioned_supporter_ids: set[int]
    saved_notes: list[NoteRecord] = field(default_factory=list)


@dataclass(frozen=True)
class Comparison:
    """The district's previous ended drill, summarised the same way."""

    drill: Drill
    summary: TimingSummary
    help_wait_s: float | None
    # Checkpoint number (1, 2, ...) -> summary there.
    by_number: dict[int, TimingSummary]


@dataclass(frozen=True)
class DrillFacts:
    drill: Drill
    checkpoints: list[CheckpointRecord]
    teams: list[TeamRecord]
    encounters: list[EncounterTiming]
    summary: TimingSummary
    by_checkpoint: dict[int, TimingSummary]
    by_team: dict[int, TimingSummary]
    # Checkpoint number (1, 2, ...) -> summary there, for the comparison.
    by_number: dict[int, TimingSummary]
    help_calls: list[HelpCallTiming]
    help_wait_s: float | None
    participation: list[KindParticipation]
    supporter_names: dict[int, str]
    counts: dict[str, int]
    chart_svg: Markup
    previous: Comparison | None = None
    effective_steps: list[StepRecord] = field(default_factory=list)
    # Supporter id -> their team's id (None when not in a team).
    team_of: dict[int, int | None] = field(default_factory=dict)
    # Every note from the field in the order written (timings.field_notes).
    notes: list[NoteRecord] = field(default_factory=list)

    @staticmethod
    def duration(seconds: float | None) -> str | None:
        """「1分05秒」 for templates; None stays None (shown as missing)."""
        return format_duration(seconds)

    @property
    def checkpoint_numbers(self) -> dict[int, int]:
        ordered = sorted(self.checkpoints, key=lambda c: (c.seq, c.id))
        return {cp.id: i for i, cp in enumerate(ordered, start=1)}

    @property
    def checkpoint_names(self) -> dict[int, str]:
        return {cp.id: cp.name for cp in self.checkpoints}

    @property
    def team_names(self) -> dict[int, str]:
        return {t.id: t.name for t in self.teams}

    @property
    def notes_by_encounter(self) -> dict[tuple[int, int], list[NoteRecord]]:
        """(checkpoint id, team id) of an encounter -> its notes; notes of no encounter are in
        notes_elsewhere."""
        pairs = {(e.checkpoint_id, e.team_id) for e in self.encounters}
        grouped: dict[tuple[int, int], list[NoteRecord]] = {}
        for note in self.notes:
            key = (note.checkpoint_id or 0, note.team_id or 0)
            if key in pairs:
                grouped.setdefault(key, []).append(note)
        return grouped

    @property
    def notes_elsewhere(self) -> list[NoteRecord]:
        """Notes without a checkpoint or team, or at a checkpoint where the team logged no
        step."""
        pairs = {(e.checkpoint_id, e.team_id) for e in self.encounters}
        return [n for n in self.notes if (n.checkpoint_id or 0, n.team_id or 0) not in pairs]


def load_records(drill: Drill) -> DrillRecords:
    """Read the drill's steps, help calls, participants and position counts."""
    checkpoints = [
        CheckpointRecord(
            id=cp.id,
            seq=cp.seq,
            name=cp.name,
            lat=cp.lat,
            lon=cp.lon,
            checklist=tuple(cp.checklist or ()),
        )
        for cp in drill.checkpoints
    ]
    teams = [TeamRecord(id=t.id, name=t.name, color=t.color) for t in drill.teams]
    steps = [
        StepRecord(
            id=s.id,
            supporter_id=s.supporter_id,
            team_id=s.team_id,
            checkpoint_id=s.checkpoint_id,
            step=str(s.step),
            done_at=s.done_at,
            lat=s.lat,
            lon=s.lon,
            corrects_id=s.corrects_id,
            note=s.note,
        )
        for s in db.session.scalars(
            sa.select(EncounterStep)
            .where(EncounterStep.drill_id == drill.id)
            .order_by(EncounterStep.id)
        )
    ]
    calls = [
        HelpCallRecord(
            id=c.id,
            supporter_id=c.supporter_id,
            called_at=c.called_at,
            answered_at=tuple(r.answered_at for r in c.responses),
            resolved_at=c.resolved_at,
        )
        for c in db.session.scalars(
            sa.select(HelpCall)
            .where(HelpCall.drill_id == drill.id)
            .options(selectinload(HelpCall.responses))
        )
    ]
    participant_rows = list(
        db.session.scalars(
            sa.select(Participant)
            .where(Participant.drill_id == drill.id)
            .options(selectinload(Participant.supporter))
        )
    )
    participants = [
        ParticipantRecord(
            supporter_id=p.supporter_id,
            kind=str(p.supporter.kind),
            role=str(p.role),
            team_id=p.team_id,
        )
        for p in participant_rows
    ]
    names = {p.supporter_id: p.supporter.name for p in participant_rows}
    position_count = (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(PositionReport)
            .where(PositionReport.drill_id == drill.id)
        )
        or 0
    )
    positioned = set(
        db.session.scalars(
            sa.select(PositionReport.supporter_id)
            .where(PositionReport.drill_id == drill.id)
            .distinct()
        )
    )
    saved_notes = [
        NoteRecord(
            supporter_id=n.supporter_id,
            team_id=n.team_id,
            checkpoint_id=n.checkpoint_id,
            text=n.text,
            written_at=n.written_at,
        )
        for n in db.session.scalars(
            sa.select(EncounterNote)
            .where(EncounterNote.drill_id == drill.id)
            .order_by(EncounterNote.written_at, EncounterNote.id)
        )
    ]
    return DrillRecords(
        checkpoints=checkpoints,
        teams=teams,
        steps=steps,
        help_calls=calls,
        participants=participants,
        supporter_names=names,
        position_count=position_count,
        positioned_supporter_ids=positioned,
        saved_notes=saved_notes,
    )


def load_positions(drill: Drill) -> list[PositionRecord]:
    """Every position the drill's phones reported, in time order."""
    rows = db.session.execute(
        sa.select(
            PositionReport.supporter_id,
            PositionReport.lat,
            PositionReport.lon,
            PositionReport.recorded_at,
        )
        .where(PositionReport.drill_id == drill.id)
        .order_by(PositionReport.recorded_at, PositionReport.id)
    )
    return [PositionRecord(supporter_id=r[0], lat=r[1], lon=r[2], recorded_at=r[3]) for r in rows]


def _by_number(
    encounters: list[EncounterTiming], checkpoints: list[CheckpointRecord]
) -> dict[int, timings.TimingSummary]:
    ordered = sorted(checkpoints, key=lambda c: (c.seq, c.id))
    return {
        i: timings.summarize([e for e in encounters if e.checkpoint_id == cp.id])
        for i, cp in enumerate(ordered, start=1)
    }


def previous_ended_drill(drill: Drill) -> Drill | None:
    """The district's latest ended drill that started before this one."""
    return db.session.scalar(
        sa.select(Drill)
        .where(
            Drill.district_id == drill.district_id,
            Drill.id != drill.id,
            Drill.status == DrillStatus.ended,
            Drill.starts_at < drill.starts_at,
        )
        .order_by(Drill.starts_at.desc(), Drill.id.desc())
        .limit(1)
    )


def _compare(drill: Drill) -> Comparison:
    records = load_records(drill)
    encounters = timings.encounter_timings(records.steps, records.checkpoints, records.teams)
    calls = timings.help_call_timings(records.help_calls)
    return Comparison(
        drill=drill,
        summary=timings.summarize(encounters),
        help_wait_s=timings.mean_of(c.wait_s for c in calls),
        by_number=_by_number(encounters, records.checkpoints),
    )


def drill_facts(drill: Drill, with_previous: bool = True) -> DrillFacts:
    """Counts, timings per checkpoint and team, help calls, participation, the chart and the
    comparison with the district's previous ended drill."""
    records = load_records(drill)
    effective = timings.effective_steps(records.steps)
    encounters = timings.encounter_timings(records.steps, records.checkpoints, records.teams)
    calls = timings.help_call_timings(records.help_calls)
    active = (
        records.positioned_supporter_ids
        | {s.supporter_id for s in effective}
        | {c.supporter_id for c in records.help_calls}
    )
    counts = {
        "participants": len(records.participants),
        "active": len({p.supporter_id for p in records.participants} & active),
        "teams": len(records.teams),
        "checkpoints": len(records.checkpoints),
        "encounters": len(encounters),
        "complete_encounters": sum(1 for e in encounters if e.is_complete),
        "steps": len(effective),
        "positions": records.position_count,
        "help_calls": len(calls),
        "help_calls_answered": sum(1 for c in calls if c.wait_s is not None),
    }
    previous = previous_ended_drill(drill) if with_previous else None
    return DrillFacts(
        drill=drill,
        checkpoints=records.checkpoints,
        teams=records.teams,
        encounters=encounters,
        summary=timings.summarize(encounters),
        by_checkpoint=timings.summary_by_checkpoint(encounters, records.checkpoints),
        by_team=timings.summary_by_team(encounters, records.teams),
        by_number=_by_number(encounters, records.checkpoints),
        help_calls=calls,
        help_wait_s=timings.mean_of(c.wait_s for c in calls),
        participation=timings.participation_by_kind(records.participants, active),
        supporter_names=records.supporter_names,
        counts=counts,
        chart_svg=timings_chart_svg(encounters, records.checkpoints, records.teams),
        previous=_compare(previous) if previous is not None else None,
        effective_steps=effective,
        team_of={p.supporter_id: p.team_id for p in records.participants},
        notes=timings.field_notes(records.steps, records.saved_notes),
    )
