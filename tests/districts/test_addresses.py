"""Address points: `watchnet addresses import` reads MLIT's 街区レベル位置参照情報 (CP932, as
published; UTF-8 and ZIP too), counts what it added and refused with line numbers and adds
nothing the second time; "where am I" names the nearest point's address before it asks the
geocoder (the Nominatim stand-in) and before it falls back to the nearest landmark; staff see
what is loaded."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import signin_supporter
from tests.tracking.geocoder_support import GeocoderStub
from watchnet.cli import addresses_clear_command, addresses_import_command
from watchnet.core import geocoding
from watchnet.core.extensions import db
from watchnet.districts.models import AddressImport, AddressPoint, Landmark, LandmarkKind
from watchnet.drills.models import DrillStatus, Participant
from watchnet.tracking.models import HelpCall

HEADER = [
    "都道府県名",
    "市区町村名",
    "大字・丁目名",
    "小字・通称名",
    "街区符号・地番",
    "座標系番号",
    "Ｘ座標",
    "Ｙ座標",
    "緯度",
    "経度",
    "住居表示フラグ",
    "代表フラグ",
    "更新前履歴フラグ",
    "更新後履歴フラグ",
]
HALL = (36.33380, 138.94600)  # 八幡公民館
LOT_123 = (36.33392, 138.94618)  # 八幡町123番地, 20 m north-east of the hall
NEAR_LOT = (36.33420, 138.94640)  # 40 m from lot 123
AWAY = (36.33500, 138.95000)  # 245 m from the nearest point: a town, but no address
FAR = (36.34500, 138.96500)  # over 1.5 km from everything


def row(town: str, block: str, lat: float, lon: float, **kw: str) -> list[str]:
    values = {
        "pref": "群馬県",
        "city": "高崎市",
        "subtown": "",
        "residential": "0",
        "representative": "1",
    }
    values.update(kw)
    return [
        values["pref"],
        values["city"],
        town,
        values["subtown"],
        block,
        "9",
        "36823.1",
        "-79351.2",
        f"{lat:.6f}",
        f"{lon:.6f}",
        values["residential"],
        values["representative"],
        "0",
        "0",
    ]


def sample_rows() -> list[list[str] | bytes]:
    """Lines 2-11 of the sample: 7 usable points of 高崎市, one of 前橋市, a blank line, a
    repeated line, and three bad lines (line numbers in the comments)."""
    return [
        row("八幡町", "123", *LOT_123),  # 2
        row("八幡町", "124", 36.33395, 138.94760),  # 3
        row("八幡町", "130", 36.33300, 138.94500),  # 4
        # A large lot with a second, non-representative point: both kept.
        row("八幡町", "131", 36.33250, 138.94620),  # 5
        row("八幡町", "131", 36.33230, 138.94660, representative="0"),  # 6
        row("若田町", "5", 36.33800, 138.94700, residential="1"),  # 7: a 住居表示 block
        row("大手町", "1", 36.38900, 139.06000, city="前橋市"),  # 8: another city
        row("八幡町", "140", 36.33200, 138.94800)[:5],  # 9: too few columns
        # 10: a latitude that is no number
        row("八幡町", "141", 36.33200, 138.94800)[:8] + ["北緯36度", "138.948", "0", "1", "0", "0"],
        b"",  # 11: a blank line (ignored)
        # 12: not CP932 at all (a byte that starts no character)
        "群馬県,高崎市,八幡町,,150,9,0,0,36.332,138.948,0,1,0,0".encode("cp932").replace(
            b"150", b"\x85\x40"
        ),
        row("八幡町", "123", *LOT_123),  # 13: the same line again
        row("八幡町", "160", 36.33150, 138.94700),  # 14
    ]


def write_csv(
    path: Path, rows: list[Any], encoding: str = "cp932", header: list[str] = HEADER
) -> Path:
    out = io.BytesIO()
    out.write(_line(header, encoding))
    encoding = encoding.replace("-sig", "")  # a BOM at the start only
    for item in rows:
        out.write(item + b"\r\n" if isinstance(item, bytes) else _line(item, encoding))
    path.write_bytes(out.getvalue())
    return path


def _line(cells: list[str], encoding: str) -> bytes:
    text = io.StringIO()
    csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerow(cells)
    return text.getvalue().encode(encoding)


def run_import(app: Flask, *args: str) -> Any:
    result = app.test_cli_runner().invoke(addresses_import_command, list(args))
    db.session.expire_all()
    return result


def points() -> list[tuple[str, str, str, bool]]:
    return [
        (p.city, p.town, p.block, p.is_residential)
        for p in db.session.scalars(sa.select(AddressPoint).order_by(AddressPoint.id))
    ]


@pytest.fixture()
def sample(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "10_2024.csv", sample_rows())


# ---------------------------------------------------------------------------------------------
# Import


def test_a_cp932_file_is_imported_once_with_its_bad_rows_counted_by_line(
    app: Flask, sample: Path, district: Any
) -> None:
    first = run_import(app, str(sample), "--city", "高崎市", "--district", str(district.id))
    assert first.exit_code == 0, first.output
    assert first.exception is None
    assert "10_2024.csv (cp932): 12 rows read, 7 address points added, 1 already there, " in (
        first.output
    )
    assert "1 of other cities left out, 3 bad rows" in first.output
    assert "  line 9: wrong number of columns" in first.output
    assert "  line 10: latitude or longitude missing or outside Japan" in first.output
    assert "  line 12: characters that cannot be read in this encoding" in first.output
    assert points() == [
        ("高崎市", "八幡町", "123", False),
        ("高崎市", "八幡町", "124", False),
        ("高崎市", "八幡町", "130", False),
        ("高崎市", "八幡町", "131", False),
        ("高崎市", "八幡町", "131", False),
        ("高崎市", "若田町", "5", True),
        ("高崎市", "八幡町", "160", False),
    ]
    assert {p.district_id for p in db.session.scalars(sa.select(AddressPoint))} == {district.id}

    again = run_import(app, str(sample), "--city", "高崎市")
    assert again.exit_code == 0, again.output
    assert "12 rows read, 0 address points added, 8 already there, " in again.output
    assert len(points()) == 7

    runs = db.session.scalars(sa.select(AddressImport).order_by(AddressImport.id)).all()
    assert [(r.rows_read, r.added, r.existing, r.other_city, r.bad) for r in runs] == [
        (12, 7, 1, 1, 3),
        (12, 0, 8, 1, 3),
    ]
    assert runs[0].bad_lines == [[9, "columns"], [10, "position"], [12, "encoding"]]
    assert runs[0].finished_at is not None and runs[0].encoding == "cp932"


def test_without_a_city_every_row_is_imported(app: Flask, sample: Path) -> None:
    result = run_import(app, str(sample))
    assert "8 address points added" in result.output
    assert ("前橋市", "大手町", "1", False) in points()


def test_utf8_with_other_header_spellings_and_the_zip_from_mlit_read_alike(
    app: Flask, tmp_path: Path
) -> None:
    # Older or re-saved copies: no 小字・通称名, 「大字_町丁目名」, half-width X, a BOM.
    header = [h for h in HEADER if h != "小字・通称名"]
    header[header.index("大字・丁目名")] = "大字_町丁目名"
    header[header.index("街区符号・地番")] = "街区符号_地番"
    header[header.index("Ｘ座標")] = "X座標"
    rows = [r[:3] + r[4:] for r in (row("八幡町", "123", *LOT_123), row("八幡町", "124", *AWAY))]
    utf8 = write_csv(tmp_path / "utf8.csv", rows, encoding="utf-8-sig", header=header)
    result = run_import(app, str(utf8))
    assert "utf8.csv (utf-8-sig): 2 rows read, 2 address points added" in result.output

    archive = tmp_path / "10000-24.0a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(
            "10000-24.0a/10_2024.csv", write_csv(tmp_path / "x.csv", sample_rows()).read_bytes()
        )
    result = run_import(app, str(archive), "--city", "高崎市")
    assert "10000-24.0a.zip/10000-24.0a/10_2024.csv (cp932): 12 rows read, 6 address points " in (
        result.output
    )  # 八幡町123 came from the UTF-8 file already


def test_the_town_level_file_reads_too_and_names_the_town(app: Flask, tmp_path: Path) -> None:
    # 大字・町丁目レベル位置参照情報: codes, names and one representative point per town.
    header = ["都道府県コード", "都道府県名", "市区町村コード", "市区町村名", "大字町丁目コード"]
    header += ["大字町丁目名", "緯度", "経度", "原典資料コード", "大字・字・丁目区分コード"]
    town = ["10", "群馬県", "10202", "高崎市", "102020123000", "八幡町", "36.334", "138.946"]
    path = write_csv(tmp_path / "10_2024_oaza.csv", [town + ["3", "1"]], header=header)
    result = run_import(app, str(path))
    assert "1 rows read, 1 address points added" in result.output
    point = db.session.scalar(sa.select(AddressPoint))
    assert point is not None and (point.town, point.block) == ("八幡町", "")
    from watchnet.districts.addresses import address_text

    assert address_text(point) == "高崎市八幡町"


def test_a_file_that_is_no_address_file_is_refused_with_a_message(
    app: Flask, tmp_path: Path
) -> None:
    other = tmp_path / "supporters.csv"
    other.write_text("name,email\n山田,a@example.jp\n", encoding="utf-8")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    broken_zip = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken_zip, "w") as zf:
        zf.writestr("readme.txt", "no csv here")
    for path, message in (
        (other, "the columns 都道府県名、市区町村名、緯度、経度 are missing (the first line has: "),
        (empty, "The file is empty or not a CSV file."),
        (broken_zip, "The ZIP file holds no CSV file."),
    ):
        result = run_import(app, str(path))
        assert result.exit_code == 2, result.output
        assert isinstance(result.exception, SystemExit)  # a message, not a traceback
        assert message in result.output
    assert points() == []
    missing = run_import(app, str(tmp_path / "nothing.csv"))
    assert missing.exit_code == 2 and "does not exist" in missing.output
    no_district = run_import(app, str(other), "--district", "999")
    assert no_district.exit_code == 2 and "no district with id 999" in no_district.output


def test_clearing_a_citys_points_leaves_the_others(app: Flask, sample: Path) -> None:
    run_import(app, str(sample))
    result = app.test_cli_runner().invoke(addresses_clear_command, ["--city", "高崎市", "--yes"])
    assert result.exit_code == 0 and "7 address points deleted" in result.output
    db.session.expire_all()
    assert points() == [("前橋市", "大手町", "1", False)]


# ---------------------------------------------------------------------------------------------
# Where am I


@pytest.fixture(autouse=True)
def _geocoder_failures_forgotten() -> Iterator[None]:
    geocoding.forget_failures()
    yield
    geocoding.forget_failures()


@pytest.fixture()
def geocoder(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[GeocoderStub]:
    stub = GeocoderStub()
    stub.thread.start()
    monkeypatch.setitem(app.config, "GEOCODER_URL", stub.url)
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


@pytest.fixture()
def phone(
    app: Flask, make_drill: Callable[..., Any], district: Any, supporter: Any, sample: Path
) -> tuple[FlaskClient, Any]:
    assert run_import(app, str(sample), "--city", "高崎市").exit_code == 0
    db.session.add(
        Landmark(
            district_id=district.id,
            name="八幡公民館",
            kind=LandmarkKind.community_hall,
            lat=HALL[0],
            lon=HALL[1],
        )
    )
    drill = make_drill(
        district,
        status=DrillStatus.live,
        started_at=datetime.now(UTC) - timedelta(hours=1),
        checkpoints=[{"name": "ポイント1 小学校の角", "lat": 36.3400, "lon": 138.9500}],
    )
    db.session.add(Participant(drill_id=drill.id, supporter_id=supporter.id))
    db.session.commit()
    return signin_supporter(app.test_client(), supporter), drill


def where(client: FlaskClient, drill: Any, at: tuple[float, float]) -> Any:
    response = client.get(f"/field/drills/{drill.id}/where?lat={at[0]}&lon={at[1]}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_near_an_address_point_the_sentence_names_the_address_and_the_geocoder_is_not_asked(
    phone: tuple[FlaskClient, Any], geocoder: GeocoderStub
) -> None:
    client, drill = phone
    answer = where(client, drill, NEAR_LOT)
    assert answer["address"] == "高崎市八幡町123番地"
    assert answer["address_source"] == "address_file"
    assert answer["sentence"] == "ここは高崎市八幡町123番地付近です。八幡公民館の北東 約60mです。"
    assert answer["coords_sentence"] == "緯度・経度は 36.33420, 138.94640 です。"
    assert "36.33" not in answer["sentence"]
    assert geocoder.requests == []


def test_a_block_of_a_residential_address_area_is_read_with_ban(
    phone: tuple[FlaskClient, Any],
) -> None:
    client, drill = phone
    answer = where(client, drill, (36.33810, 138.94710))
    assert answer["address"] == "高崎市若田町5番"


def test_without_a_near_point_the_geocoder_gives_the_address(
    phone: tuple[FlaskClient, Any], geocoder: GeocoderStub
) -> None:
    client, drill = phone
    answer = where(client, drill, AWAY)
    assert answer["address_source"] == "geocoder"
    assert answer["address"] == "本庄市八幡町3"
    assert len(geocoder.requests) == 1


def test_without_a_near_point_or_a_geocoder_the_landmark_and_the_town_are_named(
    phone: tuple[FlaskClient, Any],
) -> None:
    client, drill = phone
    answer = where(client, drill, AWAY)
    assert answer["address"] is None
    assert answer["relative"] == "八幡公民館の東 約380m"
    assert answer["town"] == "高崎市八幡町"
    assert answer["sentence"] == "現在地は八幡公民館の東 約380mです。高崎市八幡町のあたりです。"


def test_far_from_every_address_point_the_nearest_landmark_is_named(
    phone: tuple[FlaskClient, Any],
) -> None:
    client, drill = phone
    answer = where(client, drill, FAR)
    assert (answer["address"], answer["town"]) == (None, None)
    assert answer["sentence"] == "現在地はポイント1 小学校の角の東 約1.5kmです。"
    assert answer["coords"] == "36.34500, 138.96500"


def test_in_english_the_address_stays_as_written(
    phone: tuple[FlaskClient, Any], supporter: Any
) -> None:
    client, drill = phone
    supporter.locale = "en"
    db.session.commit()
    answer = where(client, drill, NEAR_LOT)
    assert answer["sentence"] == (
        "You are around 高崎市八幡町123番地. That is about 60 m northeast of 八幡公民館."
    )
    assert answer["coords_sentence"] == "Latitude and longitude: 36.33420, 138.94640."


def test_a_help_call_gives_its_place_as_the_address_in_every_language(
    app: Flask, phone: tuple[FlaskClient, Any], supporter: Any
) -> None:
    client, drill = phone
    response = client.post(
        f"/field/drills/{drill.id}/help",
        json={
            "client_id": "help-0001",
            "lat": NEAR_LOT[0],
            "lon": NEAR_LOT[1],
            "called_at": datetime.now(UTC).isoformat(),
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    call = db.session.scalar(sa.select(HelpCall))
    assert call is not None and call.sentence.startswith("ここは高崎市八幡町123番地付近です。")
    from watchnet.tracking.services import place_sentences

    with app.test_request_context():
        sentences = place_sentences(drill, call.lat, call.lon, call.sentence)
    assert sentences["en"].startswith("You are around 高崎市八幡町123番地.")


# ---------------------------------------------------------------------------------------------
# The staff page


def test_staff_see_how_many_points_each_city_has_and_the_imports(
    app: Flask,
    sample: Path,
    district: Any,
    organizer_client: FlaskClient,
    outsider_client: FlaskClient,
) -> None:
    empty = organizer_client.get("/districts/addresses")
    assert empty.status_code == 200
    assert 'id="no-addresses"' in empty.get_data(as_text=True)

    run_import(app, str(sample), "--district", str(district.id))
    page = organizer_client.get("/districts/addresses").get_data(as_text=True)
    counts = page[page.index('id="address-counts"') : page.index("</table>")]
    assert '<td class="user-text">高崎市</td><td class="num">7</td>' in counts
    assert '<td class="user-text">前橋市</td><td class="num">1</td>' in counts
    imports = page[page.index('id="address-imports"') :]
    assert "10_2024.csv" in imports and "9行目：列の数が違います" in imports

    # Points imported for another district are not shown to its outsiders.
    other = outsider_client.get("/districts/addresses").get_data(as_text=True)
    assert 'id="no-addresses"' in other and "10_2024.csv" not in other
