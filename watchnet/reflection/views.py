"""The reflection session's hub: facts and timings of a drill, the chart, exports and the
replay map."""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from watchnet.auth.access import get_in_district_or_404, staff_required
from watchnet.drills.models import Drill
from watchnet.maps.drill_maps import tile_settings
from watchnet.practice_calls.reach import drill_practice_reach
from watchnet.reflection.exports import drill_geojson, encounters_csv
from watchnet.reflection.facts import drill_facts, load_positions
from watchnet.reflection.replay import replay_data, replay_map_parts

bp = Blueprint("reflection", __name__, url_prefix="/drills/<int:drill_id>")


def _load_drill(drill_id: int) -> Drill:
    return get_in_district_or_404(current_user, Drill, drill_id)


def _links(drill: Drill) -> list[tuple[str, str]]:
    """Links to the other reflection pages that exist in this app (built in parallel)."""
    wanted = [
        ("reflection.replay", _("Replay on the map")),
        ("feedback.viewpoints", _("Both viewpoints")),
        ("feedback.list_feedback", _("Feedback")),
        ("kpt.board", _("Keep / Problem / Try board")),
        ("kpt.report", _("Printable report")),
        ("kpt.newsletter", _("Newsletter summary")),
    ]
    return [
        (text, url_for(endpoint, drill_id=drill.id))
        for endpoint, text in wanted
        if endpoint in current_app.view_functions
    ]


def _filename(drill: Drill, suffix: str) -> str:
    return f"drill-{drill.id}-{suffix}"


@bp.get("/reflection")
@staff_required()
def reflection_page(drill_id: int) -> str:
    """Facts, timings per checkpoint and team, help calls, participation, the reach of the
    drill's practice calls and the comparison with the district's previous drill."""
    drill = _load_drill(drill_id)
    return render_template(
        "reflection/page.html",
        drill=drill,
        facts=drill_facts(drill),
        links=_links(drill),
        practice=drill_practice_reach(drill.id),
    )


@bp.get("/reflection/chart.svg")
@staff_required()
def chart_svg(drill_id: int) -> Response:
    """The timings chart alone, as an SVG file."""
    facts = drill_facts(_load_drill(drill_id), with_previous=False)
    return Response(str(facts.chart_svg), mimetype="image/svg+xml")


@bp.get("/reflection/encounters.csv")
@staff_required()
def export_encounters_csv(drill_id: int) -> Response:
    """The encounters with their timings, as CSV for Excel."""
    drill = _load_drill(drill_id)
    data = encounters_csv(drill_facts(drill, with_previous=False))
    return Response(
        data,
        mimetype="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{_filename(drill, "encounters.csv")}"'
        },
    )


@bp.get("/reflection/drill.geojson")
@staff_required()
def export_geojson(drill_id: int) -> Response:
    """The route, checkpoints, positions and encounter steps as GeoJSON."""
    drill = _load_drill(drill_id)
    data = drill_geojson(drill_facts(drill, with_previous=False), load_positions(drill))
    return Response(
        json.dumps(data, ensure_ascii=False),
        mimetype="application/geo+json",
        headers={
            "Content-Disposition": f'attachment; filename="{_filename(drill, "drill.geojson")}"'
        },
    )


@bp.get("/replay")
@staff_required()
def replay(drill_id: int) -> str:
    """The drill on the map over time: tracks and steps under a time slider, and a heat map."""
    drill = _load_drill(drill_id)
    facts = drill_facts(drill, with_previous=False)
    positions = load_positions(drill)
    parts = replay_map_parts(drill, facts, positions, tile_settings(current_app.config))
    return render_template(
        "reflection/replay.html",
        drill=drill,
        facts=facts,
        map_parts=parts,
        data=replay_data(drill, facts, positions),
        timezone=current_app.config["DISPLAY_TIMEZONE"],
    )
