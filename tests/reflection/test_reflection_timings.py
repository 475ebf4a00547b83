"""Timings and facts of a drill with known timestamps, against values computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import force_locale
from reflection_support import CP1, metres_for_dlat

from watchnet.core.timefmt import format_duration
from watchnet.reflection import timings
from watchnet.reflection.facts import drill_facts
from watchnet.reflection.timings import CheckpointRecord, StepRecord, TeamRecord

T = datetime(2026, 1, 1, tzinfo=UTC)


def _step(
    id_: int,
    kind: str,
    seconds: float,
    corrects: int | None = None,
    cp: int | None = 1,
    team: int | None = 1,
) -> StepRecord:
    return StepRecord(
        id=id_,
        supporter_id=1,
        team_id=team,
        checkpoint_id=cp,
        step=kind,
        done_at=T + timedelta(seconds=seconds),
        corrects_id=corrects,
    )


def test_the_latest_correction_of_a_step_is_the_effective_one():
    steps = [
        _step(1, "noticed", 0),
        _step(2, "approached_front", 90),
        _step(3, "approached_front", 70, corrects=2),
        _step(4, "noticed", 10, corrects=1),
        _step(5, "approached_front", 80, corrects=2),
    ]
    effective = timings.effective_steps(steps)
    assert [(s.id, s.done_at - T) for s in effective] == [
        (4, timedelta(seconds=10)),
        (5, timedelta(seconds=80)),
    ]


def test_a_missing_step_gives_no_timing_rather_than_zero():
    cps = [CheckpointRecord(id=1, seq=0, name="P", lat=36.0, lon=139.0)]
    teams = [TeamRecord(id=1, name="A")]
    [enc] = timings.encounter_timings([_step(1, "approached_front", 30)], cps, teams)
    assert enc.noticed_at is None
    assert (enc.to_approach_s, enc.to_contact_s, enc.to_handover_s) == (None, None, None)
    assert enc.location_error_m is None
    assert enc.steps_missing == [
        "noticed",
        "gave_own_name",
        "asked_name_or_destination",
        "contacted",
        "handed_over",
    ]
    summary = timings.summarize([enc])
    assert summary.to_approach_s is None
    assert summary.missing == {"to_approach_s": 1, "to_contact_s": 1, "to_handover_s": 1}


def test_durations_read_as_minutes_and_seconds_and_missing_stays_missing(app):
    with force_locale("ja"):
        assert format_duration(51) == "51秒"
        assert format_duration(65) == "1分05秒"
        assert format_duration(3725) == "1時間02分05秒"
        assert format_duration(0) == "0秒"
        assert format_duration(None) is None
    with force_locale("en"):
        assert format_duration(65) == "1 min 05 s"


def test_every_encounter_timing_of_the_known_drill_matches_the_hand_computed_values(known_drill):
    k = known_drill
    facts = drill_facts(k.drill)
    got = {(e.checkpoint_id, e.team_id): e for e in facts.encounters}
    # Ordered by checkpoint, then team; team B logged nothing at checkpoint 2.
    assert [(e.checkpoint_id, e.team_id) for e in facts.encounters] == [
        (k.cp1.id, k.team_a.id),
        (k.cp1.id, k.team_b.id),
        (k.cp2.id, k.team_a.id),
    ]

    a1 = got[(k.cp1.id, k.team_a.id)]
    assert (a1.to_approach_s, a1.to_contact_s, a1.to_handover_s) == (45, 130, 300)
    assert a1.noticed_at == datetime(2026, 3, 1, 1, 0, 0, tzinfo=UTC)
    assert a1.location_error_m == pytest.approx(metres_for_dlat(0.00045), rel=1e-9)
    assert a1.location_error_m == pytest.approx(50.04, abs=0.01)
    assert a1.steps_missing == ["asked_name_or_destination"]

    b1 = got[(k.cp1.id, k.team_b.id)]
    assert (b1.to_approach_s, b1.to_contact_s, b1.to_handover_s) == (90, None, 360)
    assert b1.location_error_m == 0.0  # noticed at the checkpoint itself: zero, not missing

    a2 = got[(k.cp2.id, k.team_a.id)]
    assert (a2.to_approach_s, a2.to_contact_s, a2.to_handover_s) == (60, None, None)
    assert a2.location_error_m is None


def test_summaries_per_checkpoint_and_team_average_only_the_logged_timings(known_drill):
    k = known_drill
    facts = drill_facts(k.drill)
    s = facts.summary
    assert s.encounters == 3
    assert s.to_approach_s == pytest.approx((45 + 90 + 60) / 3)  # 65
    assert s.to_contact_s == 130
    assert s.to_handover_s == pytest.approx((300 + 360) / 2)  # 330
    assert s.location_error_m == pytest.approx(metres_for_dlat(0.00045) / 2)
    assert s.missing == {"to_approach_s": 0, "to_contact_s": 2, "to_handover_s": 1}

    cp1, cp2 = facts.by_checkpoint[k.cp1.id], facts.by_checkpoint[k.cp2.id]
    assert (cp1.to_approach_s, cp1.to_contact_s, cp1.to_handover_s) == (67.5, 130, 330)
    assert (cp2.to_approach_s, cp2.to_contact_s, cp2.to_handover_s) == (60, None, None)

    ta, tb = facts.by_team[k.team_a.id], facts.by_team[k.team_b.id]
    assert (ta.encounters, ta.to_approach_s, ta.to_contact_s, ta.to_handover_s) == (
        2,
        52.5,
        130,
        300,
    )
    assert (tb.encounters, tb.to_approach_s, tb.to_contact_s, tb.to_handover_s) == (
        1,
        90,
        None,
        360,
    )


def test_help_calls_count_the_seconds_until_the_first_answer(known_drill):
    k = known_drill
    facts = drill_facts(k.drill)
    calls = {c.supporter_id: c for c in facts.help_calls}
    assert calls[k.b1.id].wait_s == 50  # answers at +250 and +290 to a call at +200
    assert calls[k.b1.id].responses == 2
    assert calls[k.a1.id].wait_s is None
    assert calls[k.a1.id].responses == 0
    assert facts.help_wait_s == 50
    assert [c.supporter_id for c in facts.help_calls] == [k.b1.id, k.a1.id]  # in time order


def test_participation_counts_everyone_invited_and_those_active_per_kind(known_drill):
    facts = drill_facts(known_drill.drill)
    rows = {p.kind: (p.invited, p.took_part) for p in facts.participation}
    assert rows == {
        "community_supporter": (2, 2),
        "dementia_supporter": (1, 1),
        "care_manager": (1, 0),
    }
    assert facts.counts == {
        "participants": 4,
        "active": 3,
        "teams": 2,
        "checkpoints": 2,
        "encounters": 3,
        "complete_encounters": 0,
        "steps": 12,
        "positions": 3,
        "help_calls": 2,
        "help_calls_answered": 1,
    }


def test_the_previous_ended_drill_of_the_district_is_compared(known_drill, previous_drill):
    facts = drill_facts(known_drill.drill)
    assert facts.previous is not None
    assert facts.previous.drill.id == previous_drill.id
    assert facts.previous.summary.to_approach_s == 120
    assert facts.previous.summary.to_handover_s == 600
    assert facts.previous.summary.to_contact_s is None
    assert facts.previous.by_number[1].to_handover_s == 600
    assert facts.previous.help_wait_s is None


def test_a_first_drill_has_nothing_to_compare_with(known_drill):
    assert drill_facts(known_drill.drill).previous is None


def test_the_checkpoint_lies_where_the_fixture_says():
    # Guard for the hand computation: 0.00045° of latitude ≈ 50 m.
    assert metres_for_dlat(0.00045) == pytest.approx(50.04, abs=0.01)
    assert CP1 == (36.3340, 138.9461)
