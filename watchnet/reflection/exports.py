"""Exports of a drill: the encounters as CSV (UTF-8 with BOM, as Excel opens it) and the
positions and encounter steps as GeoJSON."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask_babel import gettext as _

from watchnet.core.labels import label
from watchnet.core.timefmt import to_local
from watchnet.reflection.facts import DrillFacts
from watchnet.reflection.timings import NoteRecord, PositionRecord
from watchnet.tracking.models import EncounterStepKind


def _local_iso(value: datetime | None) -> str:
    return to_local(value).isoformat(timespec="seconds") if value is not None else ""


def _number(value: float | None, digits: int = 0) -> str:
    # Missing stays empty, never 0.
    if value is None:
        return ""
    return f"{value:.{digits}f}" if digits else str(int(round(value)))


def _note_lines(notes: Sequence[NoteRecord], facts: DrillFacts) -> str:
    """A cell of notes, one a line: "10:05 見守 花子: text"."""
    return "\n".join(
        f"{to_local(n.written_at):%H:%M} {facts.supporter_names.get(n.supporter_id, '')}: {n.text}"
        for n in notes
    )


def encounters_csv(facts: DrillFacts) -> bytes:
    """One row per encounter (checkpoint and team) with its timings in seconds and its notes;
    a missing timing is an empty cell. Notes of no encounter follow in rows of their own
    (checkpoint and team where known, no timings), so that every note is in the file."""
    numbers = {
        cp.id: i
        for i, cp in enumerate(sorted(facts.checkpoints, key=lambda c: (c.seq, c.id)), start=1)
    }
    cp_names, team_names = facts.checkpoint_names, facts.team_names
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            _("Checkpoint number"),
            _("Checkpoint"),
            _("Team"),
            _("Noticed at"),
            _("Noticed → approached (s)"),
            _("Noticed → contacted (s)"),
            _("Noticed → handed over (s)"),
            _("Location error (m)"),
            _("Steps done"),
            _("Steps missing"),
            _("Notes"),
        ]
    )
    notes = facts.notes_by_encounter
    for enc in facts.encounters:
        writer.writerow(
            [
                numbers.get(enc.checkpoint_id, ""),
                cp_names.get(enc.checkpoint_id, ""),
                team_names.get(enc.team_id, ""),
                _local_iso(enc.noticed_at),
                _number(enc.to_approach_s),
                _number(enc.to_contact_s),
                _number(enc.to_handover_s),
                _number(enc.location_error_m),
                " / ".join(label(EncounterStepKind, s) for s in enc.steps_done),
                " / ".join(label(EncounterStepKind, s) for s in enc.steps_missing),
                _note_lines(notes.get((enc.checkpoint_id, enc.team_id), []), facts),
            ]
        )
    for note in facts.notes_elsewhere:
        cp = note.checkpoint_id or 0
        writer.writerow(
            [
                numbers.get(cp, ""),
                cp_names.get(cp, ""),
                team_names.get(note.team_id or 0, ""),
                *[""] * 7,
                _note_lines([note], facts),
            ]
        )
    return out.getvalue().encode("utf-8-sig")


def _point(lon: float, lat: float, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": properties,
    }


def drill_geojson(facts: DrillFacts, positions: Sequence[PositionRecord]) -> dict[str, Any]:
    """A FeatureCollection: the route, checkpoints, every reported position and every
    effective encounter step that carries a position. Times are ISO 8601 in UTC."""
    drill = facts.drill
    team_names = facts.team_names
    features: list[dict[str, Any]] = []
    if len(drill.route_latlons) >= 2:
        features.append(
            {
                "type": "Feature",
                "properties": {"kind": "route"},
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[lon, lat] for lat, lon in drill.route_latlons],
                },
            }
        )
    for number, cp in enumerate(sorted(facts.checkpoints, key=lambda c: (c.seq, c.id)), start=1):
        features.append(
            _point(
                cp.lon,
                cp.lat,
                {"kind": "checkpoint", "checkpoint_id": cp.id, "number": number, "name": cp.name},
            )
        )
    for pos in positions:
        team_id = facts.team_of.get(pos.supporter_id)
        features.append(
            _point(
                pos.lon,
                pos.lat,
                {
                    "kind": "position",
                    "supporter_id": pos.supporter_id,
                    "team_id": team_id,
                    "team": team_names.get(team_id) if team_id else None,
                    "time": pos.recorded_at.isoformat(),
                },
            )
        )
    for step in facts.effective_steps:
        if step.lat is None or step.lon is None:
            continue
        features.append(
            _point(
                step.lon,
                step.lat,
                {
                    "kind": "step",
                    "step": step.step,
                    "supporter_id": step.supporter_id,
                    "team_id": step.team_id,
                    "team": team_names.get(step.team_id) if step.team_id else None,
                    "checkpoint_id": step.checkpoint_id,
                    "checkpoint": facts.checkpoint_names.get(step.checkpoint_id or 0),
                    "time": step.done_at.isoformat(),
                },
            )
        )
    return {
        "type": "FeatureCollection",
        "properties": {"drill_id": drill.id, "title": drill.title},
        "features": features,
    }
