"""Notes from the field (saved with 「メモを保存」 or typed before a step) on the reflection page,
the printed report and the encounters CSV."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
import sqlalchemy as sa
from reflection_support import KnownDrill, at

from watchnet.core.extensions import db
from watchnet.tracking.models import EncounterNote, EncounterStep


@pytest.fixture()
def noted(known_drill: KnownDrill) -> KnownDrill:
    """The known drill with notes: one on team A's hand-over at checkpoint 1 (+300 s, 10:05),
    one saved on its own after it (+320 s), one of team B's away from any checkpoint (+950 s,
    10:15), and one on a step that was corrected later (the correction has none: not shown)."""
    k = known_drill

    def step_of(kind: str, checkpoint: Any, corrects: bool = False) -> EncounterStep:
        query = sa.select(EncounterStep).where(
            EncounterStep.drill_id == k.drill.id,
            EncounterStep.step == kind,
            EncounterStep.checkpoint_id == checkpoint.id,
        )
        query = query.where(
            EncounterStep.corrects_id.is_not(None)
            if corrects
            else EncounterStep.corrects_id.is_(None)
        )
        return db.session.scalars(query.order_by(EncounterStep.id)).first()  # type: ignore[return-value]

    step_of("handed_over", k.cp1).note = "家族に引き継いだ"
    step_of("approached_front", k.cp2).note = "古いメモ（訂正前）"
    db.session.add_all(
        [
            EncounterNote(
                drill_id=k.drill.id,
                supporter_id=k.a1.id,
                team_id=k.team_a.id,
                checkpoint_id=k.cp1.id,
                client_id="note-0001",
                text="引き継ぎの後、ご本人は落ち着いていた",
                written_at=at(320),
            ),
            EncounterNote(
                drill_id=k.drill.id,
                supporter_id=k.b1.id,
                team_id=k.team_b.id,
                checkpoint_id=None,
                client_id="note-0002",
                text="帰り道、横断歩道が危ない",
                written_at=at(950),
            ),
        ]
    )
    db.session.commit()
    return k


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_reflection_page_lists_every_note_in_the_order_written(organizer_client, noted):
    html = organizer_client.get(f"/drills/{noted.drill.id}/reflection").get_data(as_text=True)
    section = re.search(r'<section class="card" aria-labelledby="notes-h".*?</section>', html, re.S)
    assert section, "no notes section"
    rows = re.findall(r"<tr data-note=\"\d+\">(.*?)</tr>", section.group(0), re.S)
    texts = [_text(r).strip() for r in rows]
    assert texts == [
        "10:05 青木 一郎 A班 1. ポイント1 公民館前 引き継いだ 家族に引き継いだ",
        "10:05 青木 一郎 A班 1. ポイント1 公民館前 メモのみ 引き継ぎの後、ご本人は落ち着いていた",
        "10:15 馬場 三郎 B班 — メモのみ 帰り道、横断歩道が危ない",
    ]
    assert "古いメモ" not in html  # the corrected step's note is its correction's (none)


def test_the_printed_report_has_the_notes(organizer_client, noted):
    html = organizer_client.get(f"/drills/{noted.drill.id}/report").get_data(as_text=True)
    section = re.search(r'<section id="report-notes">.*?</section>', html, re.S)
    assert section, "no notes in the report"
    text = _text(section.group(0))
    assert "現場のメモ" in text
    for note in (
        "家族に引き継いだ",
        "引き継ぎの後、ご本人は落ち着いていた",
        "帰り道、横断歩道が危ない",
    ):
        assert note in text
    assert "10:15 馬場 三郎 (B班):" in text


def test_the_encounters_csv_carries_each_note_once(organizer_client, noted):
    response = organizer_client.get(f"/drills/{noted.drill.id}/reflection/encounters.csv")
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0][10] == "メモ"
    by_pair = {(r[1], r[2]): r for r in rows[1:]}
    assert by_pair[("ポイント1 公民館前", "A班")][10].split("\n") == [
        "10:05 青木 一郎: 家族に引き継いだ",
        "10:05 青木 一郎: 引き継ぎの後、ご本人は落ち着いていた",
    ]
    assert by_pair[("ポイント1 公民館前", "B班")][10] == ""
    # The note away from any checkpoint has a row of its own, with no timings.
    assert rows[-1] == ["", "", "B班", *[""] * 7, "10:15 馬場 三郎: 帰り道、横断歩道が危ない"]
    assert sum("古いメモ" in cell for row in rows for cell in row) == 0


def test_a_drill_without_notes_says_so(organizer_client, known_drill):
    html = organizer_client.get(f"/drills/{known_drill.drill.id}/reflection").get_data(as_text=True)
    assert "電話で書かれたメモはありません。" in html
    report = organizer_client.get(f"/drills/{known_drill.drill.id}/report").get_data(as_text=True)
    assert "電話で書かれたメモはありません。" in report
