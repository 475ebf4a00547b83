"""Supporter lists kept in Excel: CSV import with a preview, and export in the same form."""

from __future__ import annotations

import csv
import io
import re

import sqlalchemy as sa

from watchnet.core.extensions import db
from watchnet.people.models import Supporter, SupporterImport

JA_HEADER = "氏名,ふりがな,種別,メールアドレス,電話番号,通知先,緯度,経度,備考"


def _upload(client, district, data: bytes, filename: str = "名簿.csv"):
    return client.post(
        "/supporters/import",
        data={"district_id": str(district.id), "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def _preview(client, response):
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    location = response.headers["Location"]
    batch_id = int(re.search(r"/supporters/import/(\d+)$", location).group(1))
    return batch_id, client.get(location).get_data(as_text=True)


def _rows(html: str) -> dict[int, str]:
    """Excel row number -> status, as the preview table shows them."""
    return {int(n): s for n, s in re.findall(r'data-row="(\d+)" data-status="(\w+)"', html)}


def _names() -> list[str]:
    return sorted(db.session.scalars(sa.select(Supporter.name)).all())


SAMPLE = (
    "\r\n".join(
        [
            JA_HEADER,
            "山田 太郎,やまだ たろう,地域支え合いサポーター,taro@example.jp,090-1111-2222,,"
            "36.3335,138.9455,",
            "鈴木 花子,スズキ ハナコ,認知症サポーター,,,json://hooks.example.jp/a,,,午前のみ",
            "佐藤 次郎,さとう 次郎,ケアマネジャー,jiro@example.jp,,,,,",  # row 4: kana
            # row 5: latitude out of range
            "高橋 三郎,たかはし さぶろう,介護予防サポーター,saburo@example.jp,,,91,138.9,",
            ",,,,,,,,",  # row 6: blank
            "山田 太郎,やまだ たろう,地域支え合いサポーター,TARO@example.jp,,,,,",  # row 7: dup
            "田中 四郎,たなか しろう,宇宙飛行士,shiro@example.jp,,,,,",  # row 8: kind
            "伊藤 五郎,いとう ごろう,民生委員,goro@example.jp,,,,,",
        ]
    )
    + "\r\n"
)


def test_utf8_bom_file_shows_a_preview_with_excel_row_numbers_and_errors(
    organizer_client, district, english
):
    response = _upload(organizer_client, district, SAMPLE.encode("utf-8-sig"))
    batch_id, html = _preview(organizer_client, response)
    assert _rows(html) == {
        2: "new",
        3: "new",
        4: "error",
        5: "error",
        7: "duplicate",
        8: "error",
        9: "new",
    }
    assert 'Row 4, <span class="user-text">ふりがな</span>: Use hiragana or katakana only' in html
    assert 'Row 5, <span class="user-text">緯度</span>: Latitude must be between -90 and 90' in html
    assert 'Row 8, <span class="user-text">種別</span>: Unknown kind.' in html
    assert "duplicate within file (skipped)" in html
    assert db.session.get(SupporterImport, batch_id).encoding == "utf-8-sig"
    assert _names() == []  # nothing is written before the confirmation


def test_confirming_imports_exactly_the_valid_rows_once(organizer_client, district, english):
    batch_id, _html = _preview(
        organizer_client, _upload(organizer_client, district, SAMPLE.encode("utf-8-sig"))
    )
    response = organizer_client.post(f"/supporters/import/{batch_id}/confirm")
    assert response.status_code == 302
    assert _names() == ["伊藤 五郎", "山田 太郎", "鈴木 花子"]
    hanako = db.session.scalar(sa.select(Supporter).where(Supporter.name == "鈴木 花子"))
    assert hanako.kind == "dementia_supporter"
    assert [a.url for a in hanako.notification_addresses] == ["json://hooks.example.jp/a"]
    taro = db.session.scalar(sa.select(Supporter).where(Supporter.name == "山田 太郎"))
    assert (taro.home_lat, taro.home_lon, taro.phone) == (36.334, 138.946, "090-1111-2222")
    html = organizer_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "3 supporters were imported; 4 rows were skipped." in html

    again = organizer_client.post(f"/supporters/import/{batch_id}/confirm")
    assert again.status_code == 302
    html = organizer_client.get(again.headers["Location"]).get_data(as_text=True)
    assert "This import was confirmed already" in html
    assert len(_names()) == 3


def test_importing_the_same_file_again_imports_nobody(organizer_client, district):
    data = SAMPLE.encode("utf-8-sig")
    first, _ = _preview(organizer_client, _upload(organizer_client, district, data))
    organizer_client.post(f"/supporters/import/{first}/confirm")
    second, html = _preview(organizer_client, _upload(organizer_client, district, data))
    statuses = _rows(html)
    assert statuses[2] == statuses[3] == statuses[9] == "exists"
    assert "new" not in statuses.values()
    organizer_client.post(f"/supporters/import/{second}/confirm")
    assert len(_names()) == 3


def test_cp932_file_with_english_headers_and_code_names(organizer_client, district):
    text = (
        "name,name_kana,kind,email,phone,notification_urls,home_lat,home_lon,note\r\n"
        "髙橋 ＳＡＴＯ,たかはし さと,care_manager,sato@example.jp,０９０-１２３４-５６７８,"
        ",,,ﾒﾓ\r\n"
        "渡辺 幸子,ワタナベ サチコ,オレンジサポーター,,,,36.5,139.0,\r\n"
    )
    data = text.encode("cp932")
    batch_id, html = _preview(organizer_client, _upload(organizer_client, district, data))
    assert _rows(html) == {2: "new", 3: "new"}
    assert db.session.get(SupporterImport, batch_id).encoding == "cp932"
    organizer_client.post(f"/supporters/import/{batch_id}/confirm")
    sato = db.session.scalar(sa.select(Supporter).where(Supporter.email == "sato@example.jp"))
    assert sato.name == "髙橋 ＳＡＴＯ"
    assert sato.phone == "090-1234-5678"
    assert sato.kind == "care_manager"
    sachiko = db.session.scalar(sa.select(Supporter).where(Supporter.name == "渡辺 幸子"))
    assert sachiko.kind == "dementia_supporter"


def test_plain_utf8_without_bom_is_read(organizer_client, district):
    data = (JA_HEADER + "\n山田 太郎,やまだ たろう,区長,,,,,,\n").encode()
    batch_id, html = _preview(organizer_client, _upload(organizer_client, district, data))
    assert _rows(html) == {2: "new"}
    assert db.session.get(SupporterImport, batch_id).encoding == "utf-8"


def test_row_numbers_follow_excel_when_a_cell_holds_line_breaks(
    organizer_client, district, english
):
    data = (
        JA_HEADER + '\r\n山田 太郎,やまだ たろう,区長,,,,,,"一行目\r\n二行目"\r\n'
        "鈴木 一郎,すずき 一郎,区長,,,,,,\r\n"
    ).encode("utf-8-sig")
    _batch, html = _preview(organizer_client, _upload(organizer_client, district, data))
    assert _rows(html) == {2: "new", 3: "error"}
    assert 'Row 3, <span class="user-text">ふりがな</span>' in html


def test_a_file_that_is_not_csv_is_refused_on_the_form(organizer_client, district, english):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    response = _upload(organizer_client, district, png, "photo.png")
    assert response.status_code == 400
    assert "This file is not a CSV text file." in response.get_data(as_text=True)
    xlsx = b"PK\x03\x04" + b"\x14\x00" * 40
    response = _upload(organizer_client, district, xlsx, "名簿.xlsx")
    assert response.status_code == 400
    assert "This is an Excel workbook" in response.get_data(as_text=True)
    response = _upload(organizer_client, district, b"", "empty.csv")
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SupporterImport)) == 0


def test_a_file_without_a_name_column_is_refused(organizer_client, district, english):
    response = _upload(organizer_client, district, b"a,b,c\r\n1,2,3\r\n")
    assert response.status_code == 400
    assert "at least 氏名 (or name)" in response.get_data(as_text=True)


def test_more_than_5000_rows_are_refused_with_a_clear_message(organizer_client, district, english):
    lines = [JA_HEADER] + [f"人{i},ひと,区長,,,,,," for i in range(5001)]
    response = _upload(organizer_client, district, "\n".join(lines).encode("utf-8-sig"))
    assert response.status_code == 400
    assert "more than 5,000 rows" in response.get_data(as_text=True)


def test_a_row_of_another_district_is_an_error(organizer_client, district, english):
    data = (
        "氏名,ふりがな,種別,地区\n山田 太郎,やまだ たろう,区長,寺尾地区\n"
        f"鈴木 花子,すずき はなこ,区長,{district.name}\n"
    ).encode()
    _batch, html = _preview(organizer_client, _upload(organizer_client, district, data))
    assert _rows(html) == {2: "error", 3: "new"}
    assert "names the district 寺尾地区" in html


def test_export_then_import_finds_everyone_already_registered(
    organizer_client, district, make_supporter
):
    make_supporter(
        district,
        name='=HYPERLINK("http://x")',
        name_kana="はいぱー りんく",
        phone="+81 90 1234 5678",
        notification_urls=["json://a.example.jp", "mailto://b@example.jp"],
    )
    make_supporter(
        district,
        name="山田 太郎",
        name_kana="やまだ たろう",
        email=None,
        home_lat=36.3335,
        home_lon=138.9455,
        kind="ward_head",
    )
    make_supporter(
        district,
        name="鈴木 花子",
        name_kana="すずき はなこ",
        kind="dementia_supporter",
        note="改行\nあり",
    )
    response = organizer_client.get(f"/supporters/export.csv?district={district.id}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = response.data
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:9] == JA_HEADER.split(",")
    assert '\'=HYPERLINK("http://x")' in [r[0] for r in rows]  # not a formula in Excel
    assert "オレンジサポーター" in [r[2] for r in rows]

    _batch, html = _preview(organizer_client, _upload(organizer_client, district, data))
    assert set(_rows(html).values()) == {"exists"}
    assert len(_rows(html)) == 3


def test_cp932_export_decodes_and_replaces_what_cp932_lacks(
    organizer_client, district, make_supporter
):
    make_supporter(district, name="𠮷田 花子", name_kana="よしだ はなこ")
    make_supporter(district, name="髙橋 進", name_kana="たかはし すすむ")
    response = organizer_client.get(f"/supporters/export.csv?district={district.id}&encoding=cp932")
    assert response.status_code == 200
    assert "shift_jis" in response.headers["Content-Type"]
    text = response.data.decode("cp932")
    assert "氏名,ふりがな,種別" in text
    assert "?田 花子" in text
    assert "髙橋 進" in text
    page = organizer_client.get("/supporters").get_data(as_text=True)
    assert "Shift_JIS" in page


def test_export_of_all_my_districts_leaves_others_out(
    organizer_client, district, other_district, make_supporter
):
    make_supporter(district, name="八幡 住民")
    make_supporter(other_district, name="寺尾 住民")
    text = organizer_client.get("/supporters/export.csv").data.decode("utf-8-sig")
    assert "八幡 住民" in text and "寺尾 住民" not in text
    assert organizer_client.get("/supporters/export.csv?encoding=latin-1").status_code == 400


def test_an_upload_over_the_size_limit_gets_the_413_page(app, organizer_client, district):
    big = b"a" * (app.config["MAX_CONTENT_LENGTH"] + 1024)
    response = _upload(organizer_client, district, big)
    assert response.status_code == 413
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SupporterImport)) == 0


def test_the_import_page_lists_every_kind_a_file_may_name(organizer_client, english):
    """Each kind with its Japanese name and code name (both accepted), and in English too."""
    from watchnet.people.csv_io import parse_kind
    from watchnet.people.models import SupporterKind

    html = organizer_client.get("/supporters/import").get_data(as_text=True)
    items = re.findall(
        r'<li><span lang="ja">([^<]+)</span> / <code>([^<]+)</code> \(([^)]+)\)', html
    )
    assert len(items) == len(SupporterKind)
    for name_ja, code, _label in items:
        assert parse_kind(name_ja) == parse_kind(code) == SupporterKind(code)
    assert ("ケアマネジャー", "care_manager", "Care manager") in items
