"""GPX limits hold while reading: size first, then points counted as the file streams in, with
entity tricks refused. Through the real upload route; the page says why in Japanese."""

from __future__ import annotations

import io
import time
import tracemalloc

import pytest

from watchnet.core.extensions import db
from watchnet.drills import gpx
from watchnet.drills.models import RoutePoint

HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="t" '
    b'xmlns="http://www.topografix.com/GPX/1/1">'
)
TRKPT = (
    b'<trkpt lat="36.3335" lon="138.9455"><ele>120.5</ele><time>2026-03-13T09:30:00Z</time></trkpt>'
)


def upload(client, drill, content: bytes) -> object:
    return client.post(
        f"/drills/{drill.id}/gpx",
        data={"file": (io.BytesIO(content), "route.gpx"), "replace": "y"},
        content_type="multipart/form-data",
        headers={"Accept-Language": "ja"},
    )


def route_count() -> int:
    return db.session.query(RoutePoint).count()


def test_a_large_gpx_is_refused_before_it_is_parsed(organizer_client, district, make_drill):
    drill = make_drill(district)
    before = route_count()
    big = HEAD + b"<trk><trkseg>" + TRKPT * 140_000 + b"</trkseg></trk></gpx>"
    assert len(big) > 12 * 1024 * 1024
    started = time.process_time()  # CPU time: other load on the machine does not count
    response = upload(organizer_client, drill, big)
    elapsed = time.process_time() - started
    assert response.status_code == 400
    assert "GPXファイルが大きすぎます" in response.get_data(as_text=True)
    assert elapsed < 3.0, elapsed  # was 12.5 s before the size check
    assert route_count() == before


def test_points_are_counted_while_streaming_and_reading_stops_at_the_limit():
    # Under the size limit but far over the point limit: refused after ~2001 points.
    data = HEAD + b"<trk><trkseg>" + TRKPT * 25_000 + b"</trkseg></trk></gpx>"
    assert len(data) < gpx.MAX_BYTES
    tracemalloc.start()
    started = time.process_time()  # CPU time: other load on the machine does not count
    with pytest.raises(gpx.GpxError, match="ルートの点が多すぎます"):
        gpx.parse_gpx(data)
    elapsed = time.process_time() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 2.0, elapsed
    assert peak < 40 * 1024 * 1024, peak  # the text and a bounded tree, never gpxpy's objects


def test_too_many_waypoints_stop_the_stream():
    wpts = b'<wpt lat="36.3" lon="138.9"><name>x</name></wpt>' * (gpx.MAX_CHECKPOINTS + 1)
    with pytest.raises(gpx.GpxError, match="ウェイポイントが多すぎます"):
        gpx.parse_gpx(HEAD + wpts + b"</gpx>")


@pytest.mark.parametrize(
    "doc",
    [
        # Billion laughs: entities that expand to gigabytes.
        b'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b'<gpx version="1.1"><wpt lat="1" lon="1"><name>&c;</name></wpt></gpx>',
        # An external entity reading a local file.
        b'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<gpx version="1.1"><wpt lat="1" lon="1"><name>&x;</name></wpt></gpx>',
    ],
)
def test_entity_tricks_are_refused(organizer_client, district, make_drill, doc):
    drill = make_drill(district)
    response = upload(organizer_client, drill, doc)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "GPX ファイルではありません" in html and "root:" not in html


def test_a_waypoint_name_too_long_gets_a_message_not_a_cut(organizer_client, district, make_drill):
    drill = make_drill(district)
    long_name = "長" * (gpx.NAME_MAX + 1)
    doc = HEAD + f'<wpt lat="36.3" lon="138.9"><name>{long_name}</name></wpt></gpx>'.encode()
    response = upload(organizer_client, drill, doc)
    assert response.status_code == 400
    assert "ウェイポイント1の名前が100文字を超えています" in response.get_data(as_text=True)


def test_a_shift_jis_gpx_with_its_declaration_still_imports(organizer_client, district, make_drill):
    drill = make_drill(district, checkpoints=[])
    doc = (
        '<?xml version="1.0" encoding="Shift_JIS"?><gpx version="1.1">'
        '<wpt lat="36.3" lon="138.9"><name>公民館</name></wpt></gpx>'
    ).encode("cp932")
    assert upload(organizer_client, drill, doc).status_code == 302
    db.session.expire_all()
    assert [cp.name for cp in drill.checkpoints] == ["公民館"]
