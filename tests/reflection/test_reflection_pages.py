"""The reflection page, the chart and the exports as the organizer sees them."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from reflection_support import metres_for_dlat

from watchnet.core.extensions import db


@pytest.fixture()
def english_organizer_client(organizer, organizer_client):
    organizer.locale = "en"
    db.session.commit()
    return organizer_client


def _row(html: str, **attrs: int) -> str:
    """The text of the table row with these data attributes, tags stripped."""
    selector = "".join(f' data-{k}="{v}"' for k, v in attrs.items())
    match = re.search(rf"<tr{selector}>(.*?)</tr>", html, re.S)
    assert match, f"no row{selector}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def test_the_reflection_page_shows_each_encounter_with_missing_steps_as_missing(
    english_organizer_client, known_drill
):
    k = known_drill
    response = english_organizer_client.get(f"/drills/{k.drill.id}/reflection")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    row_a1 = _row(html, checkpoint=k.cp1.id, team=k.team_a.id)
    assert "ポイント1 公民館前" in row_a1 and "A班" in row_a1
    assert "10:00" in row_a1  # noticed at 01:00 UTC = 10:00 in Tokyo
    assert "45 s 2 min 10 s 5 min 00 s 50 m" in row_a1
    row_b1 = _row(html, checkpoint=k.cp1.id, team=k.team_b.id)
    assert "1 min 30 s —/missing 6 min 00 s 0 m" in row_b1
    row_a2 = _row(html, checkpoint=k.cp2.id, team=k.team_a.id)
    assert "1 min 00 s —/missing —/missing —/missing" in row_a2
    assert not re.search(r"(?<!\d)0 s", row_a2)  # no zero for a missing step


def test_the_reflection_page_shows_summaries_help_calls_and_participation(
    english_organizer_client, known_drill
):
    k = known_drill
    html = english_organizer_client.get(f"/drills/{k.drill.id}/reflection").get_data(as_text=True)
    assert _row(html, key="to_approach_s").endswith("1 min 05 s")
    assert _row(html, key="to_contact_s").endswith("2 min 10 s")
    assert _row(html, key="to_handover_s").endswith("5 min 30 s")
    assert _row(html, key="location_error_m").endswith("25 m")
    assert _row(html, checkpoint=k.cp2.id).endswith("1 min 00 s —/missing —/missing —/missing")
    assert _row(html, team=k.team_b.id) == "B班 1 1 min 30 s —/missing 6 min 00 s 0 m"
    help_rows = re.findall(r'<tr data-help-call="\d+">(.*?)</tr>', html, re.S)
    texts = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).strip() for r in help_rows]
    assert texts == ["馬場 三郎 10:03 50 s 2", "青木 一郎 10:13 —/nobody answered 0"]
    assert _row(html, kind="care_manager") == "Care manager 1 0"
    assert _row(html, kind="community_supporter") == "Community supporter 2 2"
    assert "前から近づく" in html  # the checkpoint's checklist
    assert "There is no earlier ended drill" in html
    assert "<svg" in html and "Timings per checkpoint and team" in html


def test_the_previous_drill_timings_stand_beside_this_drills(
    english_organizer_client, known_drill, previous_drill
):
    html = english_organizer_client.get(f"/drills/{known_drill.drill.id}/reflection").get_data(
        as_text=True
    )
    assert "前回の訓練" in html
    assert "後の訓練" not in html
    assert _row(html, key="to_handover_s") == "Noticed → handed over 5 min 30 s 10 min 00 s"
    assert _row(html, key="to_contact_s") == "Noticed → contacted 2 min 10 s —/missing"
    assert _row(html, checkpoint=known_drill.cp1.id).endswith("10 min 00 s")


def test_the_chart_is_an_svg_drawn_by_the_app(english_organizer_client, known_drill):
    response = english_organizer_client.get(f"/drills/{known_drill.drill.id}/reflection/chart.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert svg.startswith("<svg")
    assert svg.count('class="missing"') == 3  # B at 1: contact; A at 2: contact, hand-over
    for label in ("45 s", "2 min 10 s", "5 min 00 s", "1 min 30 s", "6 min 00 s", "1 min 00 s"):
        assert f">{label}</text>" in svg
    assert "A班" in svg and "B班" in svg


def test_user_text_in_the_chart_is_escaped(english_organizer_client, known_drill):
    known_drill.team_a.name = "<script>alert(1)</script>"
    db.session.commit()
    svg = english_organizer_client.get(
        f"/drills/{known_drill.drill.id}/reflection/chart.svg"
    ).get_data(as_text=True)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


def test_the_encounters_export_leaves_missing_timings_empty(english_organizer_client, known_drill):
    k = known_drill
    response = english_organizer_client.get(f"/drills/{k.drill.id}/reflection/encounters.csv")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:8] == [
        "Checkpoint number",
        "Checkpoint",
        "Team",
        "Noticed at",
        "Noticed → approached (s)",
        "Noticed → contacted (s)",
        "Noticed → handed over (s)",
        "Location error (m)",
    ]
    body = [r[:8] for r in rows[1:]]
    assert body == [
        [
            "1",
            "ポイント1 公民館前",
            "A班",
            "2026-03-01T10:00:00+09:00",
            "45",
            "130",
            "300",
            str(round(metres_for_dlat(0.00045))),
        ],
        ["1", "ポイント1 公民館前", "B班", "2026-03-01T10:01:40+09:00", "90", "", "360", "0"],
        ["2", "ポイント2 神社", "A班", "2026-03-01T10:10:00+09:00", "60", "", "", ""],
    ]
    assert rows[3][9] == (
        "Gave own name / Asked name or destination / Contacted someone / Handed over"
    )


def test_the_geojson_export_holds_route_checkpoints_positions_and_steps(
    english_organizer_client, known_drill
):
    k = known_drill
    response = english_organizer_client.get(f"/drills/{k.drill.id}/reflection/drill.geojson")
    assert response.status_code == 200
    data = json.loads(response.get_data(as_text=True))
    assert data["type"] == "FeatureCollection"
    kinds = [f["properties"]["kind"] for f in data["features"]]
    assert kinds.count("route") == 1
    assert kinds.count("checkpoint") == 2
    assert kinds.count("position") == 3
    steps = [f for f in data["features"] if f["properties"]["kind"] == "step"]
    # Only effective steps that carry a position: A's noticed and contacted, B's noticed.
    assert sorted(f["properties"]["step"] for f in steps) == ["contacted", "noticed", "noticed"]
    contacted = next(f for f in steps if f["properties"]["step"] == "contacted")
    assert contacted["geometry"]["coordinates"] == [138.9461, pytest.approx(36.33445)]
    assert contacted["properties"]["team"] == "A班"
    assert contacted["properties"]["time"] == "2026-03-01T01:02:10+00:00"


@pytest.mark.parametrize(
    "suffix",
    [
        "reflection",
        "reflection/chart.svg",
        "reflection/encounters.csv",
        "reflection/drill.geojson",
        "replay",
    ],
)
def test_staff_of_another_district_get_not_found(outsider_client, known_drill, suffix):
    response = outsider_client.get(f"/drills/{known_drill.drill.id}/{suffix}")
    assert response.status_code == 404


def test_the_replay_page_embeds_tracks_and_steps_with_user_text_as_data(
    english_organizer_client, known_drill
):
    known_drill.team_b.name = "</script><script>alert(1)</script>"
    db.session.commit()
    response = english_organizer_client.get(f"/drills/{known_drill.drill.id}/replay")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "alert(1)</script>" not in html
    raw = re.search(r'<script type="application/json" id="replay-data">(.*?)</script>', html, re.S)
    assert raw
    data = json.loads(raw.group(1))
    assert len(data["tracks"]) == 1 and len(data["tracks"][0]["points"]) == 3
    assert len(data["steps"]) == 11
    assert (data["end"] - data["start"]) // 1000 == 660
    assert 'type="range"' in html and 'max="660"' in html
    assert "HeatMap" in html or "heatLayer" in html
