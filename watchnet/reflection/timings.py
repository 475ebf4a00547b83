"""Timings and facts of a drill, computed from what was logged.

Pure functions: plain dataclasses in, plain results out; no Flask, no database. A missing step
gives None (shown as missing), never 0.

An *encounter* is what one team did at one checkpoint: the effective steps of that team's
members that carry that checkpoint. Its timings run from the earliest `noticed` step to the
earliest `approached_front`, `contacted` and `handed_over` step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import mean

from watchnet.core import geo

STEP_KINDS = (
    "noticed",
    "approached_front",
    "gave_own_name",
    "asked_name_or_destination",
    "contacted",
    "handed_over",
)
# (key, step the timing ends at); each starts at "noticed".
TIMING_KEYS = (
    ("to_approach_s", "approached_front"),
    ("to_contact_s", "contacted"),
    ("to_handover_s", "handed_over"),
)


@dataclass(frozen=True)
class StepRecord:
    """One logged encounter step (an original or a correction)."""

    id: int
    supporter_id: int
    team_id: int | None
    checkpoint_id: int | None
    step: str
    done_at: datetime
    lat: float | None = None
    lon: float | None = None
    corrects_id: int | None = None
    note: str = ""


@dataclass(frozen=True)
class NoteRecord:
    """A note from the field: one saved on its own with 「メモを保存」, or one typed before a
    step and kept on it (`step` names that step)."""

    supporter_id: int
    team_id: int | None
    checkpoint_id: int | None
    text: str
    written_at: datetime
    step: str | None = None


@dataclass(frozen=True)
class CheckpointRecord:
    id: int
    seq: int
    name: str
    lat: float
    lon: float
    checklist: tuple[str, ...] = ()


@dataclass(frozen=True)
class TeamRecord:
    id: int
    name: str
    color: str = "#1f77b4"


@dataclass(frozen=True)
class PositionRecord:
    supporter_id: int
    lat: float
    lon: float
    recorded_at: datetime


@dataclass(frozen=True)
class HelpCallRecord:
    id: int
    supporter_id: int
    called_at: datetime
    answered_at: tuple[datetime, ...] = ()
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class ParticipantRecord:
    supporter_id: int
    kind: str
    role: str
    team_id: int | None = None


@dataclass(frozen=True)
class EncounterTiming:
    """What one team did at one checkpoint."""

    checkpoint_id: int
    team_id: int
    noticed_at: datetime | None
    to_approach_s: float | None
    to_contact_s: float | None
    to_handover_s: float | None
    # Step kind -> when it was first done; a kind not done is absent.
    first_done: dict[str, datetime]
    # Distance of the reported position from the checkpoint (see location_error_m()).
    location_error_m: float | None

    def timing(self, key: str) -> float | None:
        return {
            "to_approach_s": self.to_approach_s,
            "to_contact_s": self.to_contact_s,
            "to_handover_s": self.to_handover_s,
        }[key]

    @property
    def steps_done(self) -> list[str]:
        return [k for k in STEP_KINDS if k in self.first_done]

    @property
    def steps_missing(self) -> list[str]:
        return [k for k in STEP_KINDS if k not in self.first_done]

    @property
    def is_complete(self) -> bool:
        return not self.steps_missing


@dataclass(frozen=True)
class TimingSummary:
    """Means over a group of encounters; None when no encounter had the timing."""

    encounters: int
    to_approach_s: float | None
    to_contact_s: float | None
    to_handover_s: float | None
    location_error_m: float | None
    # How many encounters lack each timing (the step was not logged).
    missing: dict[str, int] = field(default_factory=dict)

    def timing(self, key: str) -> float | None:
        return {
            "to_approach_s": self.to_approach_s,
            "to_contact_s": self.to_contact_s,
            "to_handover_s": self.to_handover_s,
        }[key]


@dataclass(frozen=True)
class HelpCallTiming:
    id: int
    supporter_id: int
    called_at: datetime
    # Seconds until the first answer ("on my way"); None = nobody answered.
    wait_s: float | None
    responses: int
    resolved_s: float | None


@dataclass(frozen=True)
class KindParticipation:
    kind: str
    invited: int
    took_part: int


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def mean_of(values: Iterable[float | None]) -> float | None:
    """The mean of the values that are not None; None when there are none."""
    present = [v for v in values if v is not None]
    return mean(present) if present else None


def effective_steps(steps: Iterable[StepRecord]) -> list[StepRecord]:
    """Each original step replaced by its latest correction (highest id); in time order."""
    originals: list[StepRecord] = []
    latest: dict[int, StepRecord] = {}
    for step in sorted(steps, key=lambda s: s.id):
        if step.corrects_id is None:
            originals.append(step)
        else:
            latest[step.corrects_id] = step
    result = [latest.get(o.id, o) for o in originals]
    return sorted(result, key=lambda s: (s.done_at, s.id))


def field_notes(steps: Iterable[StepRecord], saved: Iterable[NoteRecord]) -> list[NoteRecord]:
    """Every note of the drill in the order written: the notes saved on their own and those of
    the effective steps (a corrected step's note is its correction's)."""
    on_steps = [
        NoteRecord(
            supporter_id=s.supporter_id,
            team_id=s.team_id,
            checkpoint_id=s.checkpoint_id,
            text=s.note,
            written_at=s.done_at,
            step=s.step,
        )
        for s in effective_steps(steps)
        if s.note
    ]
    return sorted([*on_steps, *saved], key=lambda n: (n.written_at, n.supporter_id))


def location_error_m(steps: Sequence[StepRecord], checkpoint: CheckpointRecord) -> float | None:
    """How far the reported position was from the checkpoint, in metres.

    The position sent with the earliest `contacted` step (the one told on the phone); when that
    step has none, the earliest step of the encounter that has a position; None without any."""
    with_position = [s for s in steps if s.lat is not None and s.lon is not None]
    contacted = [s for s in with_position if s.step == "contacted"]
    chosen = contacted or with_position
    if not chosen:
        return None
    first = min(chosen, key=lambda s: (s.done_at, s.id))
    assert first.lat is not None and first.lon is not None
    return geo.haversine_m((first.lat, first.lon), (checkpoint.lat, checkpoint.lon))


def encounter_timings(
    steps: Iterable[StepRecord],
    checkpoints: Sequence[CheckpointRecord],
    teams: Sequence[TeamRecord],
) -> list[EncounterTiming]:
    """One EncounterTiming per (checkpoint, team) that logged any step there.

    Ordered by checkpoint (seq) then team (as given). Steps without a team or checkpoint are
    left out."""
    by_pair: dict[tuple[int, int], list[StepRecord]] = {}
    for step in effective_steps(steps):
        if step.checkpoint_id is None or step.team_id is None:
            continue
        by_pair.setdefault((step.checkpoint_id, step.team_id), []).append(step)
    team_order = {t.id: i for i, t in enumerate(teams)}
    result: list[EncounterTiming] = []
    for cp in sorted(checkpoints, key=lambda c: (c.seq, c.id)):
        pairs = sorted(
            (k for k in by_pair if k[0] == cp.id),
            key=lambda k: team_order.get(k[1], len(team_order)),
        )
        for pair in pairs:
            group = by_pair[pair]
            first_done: dict[str, datetime] = {}
            for step in group:  # in time order: the first one of a kind is the earliest
                first_done.setdefault(step.step, step.done_at)
            noticed = first_done.get("noticed")
            result.append(
                EncounterTiming(
                    checkpoint_id=cp.id,
                    team_id=pair[1],
                    noticed_at=noticed,
                    to_approach_s=_seconds(noticed, first_done.get("approached_front")),
                    to_contact_s=_seconds(noticed, first_done.get("contacted")),
                    to_handover_s=_seconds(noticed, first_done.get("handed_over")),
                    first_done=first_done,
                    location_error_m=location_error_m(group, cp),
                )
            )
    return result


def summarize(encounters: Sequence[EncounterTiming]) -> TimingSummary:
    """Mean timings and location error over encounters, and how many lack each timing."""
    return TimingSummary(
        encounters=len(encounters),
        to_approach_s=mean_of(e.to_approach_s for e in encounters),
        to_contact_s=mean_of(e.to_contact_s for e in encounters),
        to_handover_s=mean_of(e.to_handover_s for e in encounters),
        location_error_m=mean_of(e.location_error_m for e in encounters),
        missing={
            key: sum(1 for e in encounters if e.timing(key) is None) for key, _ in TIMING_KEYS
        },
    )


def summary_by_checkpoint(
    encounters: Sequence[EncounterTiming], checkpoints: Sequence[CheckpointRecord]
) -> dict[int, TimingSummary]:
    """Checkpoint id -> summary over the teams' encounters there (every checkpoint listed)."""
    return {
        cp.id: summarize([e for e in encounters if e.checkpoint_id == cp.id]) for cp in checkpoints
    }


def summary_by_team(
    encounters: Sequence[EncounterTiming], teams: Sequence[TeamRecord]
) -> dict[int, TimingSummary]:
    """Team id -> summary over that team's encounters (every team listed)."""
    return {t.id: summarize([e for e in encounters if e.team_id == t.id]) for t in teams}


def help_call_timings(calls: Iterable[HelpCallRecord]) -> list[HelpCallTiming]:
    """Each help call with the seconds until the first answer and until it was resolved."""
    result = []
    for call in sorted(calls, key=lambda c: (c.called_at, c.id)):
        first = min(call.answered_at) if call.answered_at else None
        result.append(
            HelpCallTiming(
                id=call.id,
                supporter_id=call.supporter_id,
                called_at=call.called_at,
                wait_s=_seconds(call.called_at, first),
                responses=len(call.answered_at),
                resolved_s=_seconds(call.called_at, call.resolved_at),
            )
        )
    return result


def participation_by_kind(
    participants: Iterable[ParticipantRecord], active_supporter_ids: set[int]
) -> list[KindParticipation]:
    """Per supporter kind: how many were invited and how many took part (shared a position,
    logged a step or called for help), most invited first."""
    invited: dict[str, int] = {}
    took_part: dict[str, int] = {}
    for p in participants:
        invited[p.kind] = invited.get(p.kind, 0) + 1
        if p.supporter_id in active_supporter_ids:
            took_part[p.kind] = took_part.get(p.kind, 0) + 1
    return [
        KindParticipation(kind=k, invited=n, took_part=took_part.get(k, 0))
        for k, n in sorted(invited.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
