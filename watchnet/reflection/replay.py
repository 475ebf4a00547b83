"""The replay of a drill: a Folium map (route, checkpoints, heat map of where people walked)
and the time-stamped tracks and steps that static/js/replay.js draws under a time slider.

Takes already-loaded records; never queries the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from folium.plugins import HeatMap

from watchnet.core.labels import label
from watchnet.core.timefmt import format_time
from watchnet.drills.models import Drill
from watchnet.maps.builders import (
    MapParts,
    TileSettings,
    add_checkpoints,
    add_route,
    fit_to,
    new_map,
    render_parts,
)
from watchnet.reflection.facts import DrillFacts
from watchnet.reflection.timings import PositionRecord
from watchnet.tracking.models import EncounterStepKind

NO_TEAM_COLOR = "#555555"


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def replay_map_parts(
    drill: Drill, facts: DrillFacts, positions: Sequence[PositionRecord], tiles: TileSettings
) -> MapParts:
    """The base map: route, numbered checkpoints and a heat map of every reported position."""
    points = drill.route_latlons + [(cp.lat, cp.lon) for cp in facts.checkpoints]
    center = points[0] if points else (drill.district.center_lat, drill.district.center_lon)
    m = new_map(center, tiles, zoom=16)
    add_route(m, drill.route_latlons)
    if positions:
        HeatMap(
            [[p.lat, p.lon] for p in positions], name="heat", radius=18, blur=15, min_opacity=0.3
        ).add_to(m)
    ordered = sorted(facts.checkpoints, key=lambda c: (c.seq, c.id))
    add_checkpoints(m, [(i, cp.name, cp.lat, cp.lon) for i, cp in enumerate(ordered, start=1)])
    fit_to(m, points + [(p.lat, p.lon) for p in positions])
    return render_parts(m)


def replay_data(
    drill: Drill, facts: DrillFacts, positions: Sequence[PositionRecord]
) -> dict[str, Any]:
    """Tracks per supporter and steps with their times (ms since the epoch) for replay.js.

    A step logged without a position is placed at its checkpoint; a step with neither is left
    out. Text is escaped by replay.js before it reaches a tooltip."""
    teams = {t.id: t for t in facts.teams}
    cps = {cp.id: cp for cp in facts.checkpoints}

    def team_info(supporter_id: int, team_id: int | None) -> dict[str, Any]:
        team = teams.get(team_id) if team_id is not None else None
        return {
            "team": team.name if team else "",
            "color": team.color if team else NO_TEAM_COLOR,
            "name": facts.supporter_names.get(supporter_id, ""),
        }

    tracks: dict[int, dict[str, Any]] = {}
    for p in positions:
        track = tracks.get(p.supporter_id)
        if track is None:
            track = tracks[p.supporter_id] = {
                "supporter_id": p.supporter_id,
                **team_info(p.supporter_id, facts.team_of.get(p.supporter_id)),
                "points": [],
            }
        track["points"].append([_ms(p.recorded_at), p.lat, p.lon])
    steps = []
    for s in facts.effective_steps:
        if s.lat is not None and s.lon is not None:
            lat, lon, at_checkpoint = s.lat, s.lon, False
        elif s.checkpoint_id in cps:
            cp = cps[s.checkpoint_id]
            lat, lon, at_checkpoint = cp.lat, cp.lon, True
        else:
            continue
        steps.append(
            {
                "t": _ms(s.done_at),
                "clock": format_time(s.done_at),
                "lat": lat,
                "lon": lon,
                "step": s.step,
                "label": label(EncounterStepKind, s.step),
                "at_checkpoint": at_checkpoint,
                "checkpoint": cps[s.checkpoint_id].name if s.checkpoint_id in cps else "",
                **team_info(s.supporter_id, s.team_id),
            }
        )
    times = [pt[0] for t in tracks.values() for pt in t["points"]] + [s["t"] for s in steps]
    start = min(times) if times else _ms(drill.started_at or drill.starts_at)
    end = max(times) if times else start
    return {"start": start, "end": end, "tracks": list(tracks.values()), "steps": steps}
