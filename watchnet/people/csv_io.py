"""Supporter lists as Excel reads and writes them: CSV in UTF-8 (with or without BOM) or CP932.

Bytes and rows only: no database, no Flask request. The use cases live in services.py.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from watchnet.core.labels import label
from watchnet.people.models import SupporterKind

MAX_ROWS = 5000
MAX_COLUMNS = 50
ENCODINGS = ("utf-8-sig", "cp932")

# Fields of a supporter row, in the order an export writes them, with the Japanese header
# an export uses. Headers are a file format, not UI text: they stay Japanese in every locale.
FIELDS: list[tuple[str, str]] = [
    ("name", "氏名"),
    ("name_kana", "ふりがな"),
    ("kind", "種別"),
    ("email", "メールアドレス"),
    ("phone", "電話番号"),
    ("notification_urls", "通知先"),
    ("home_lat", "緯度"),
    ("home_lon", "経度"),
    ("note", "備考"),
    ("district", "地区"),
]

_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("氏名", "名前", "お名前", "name", "fullname"),
    "name_kana": (
        "ふりがな",
        "フリガナ",
        "よみがな",
        "ヨミガナ",
        "かな",
        "カナ",
        "name_kana",
        "namekana",
        "kana",
    ),
    "kind": ("種別", "区分", "kind", "type"),
    "email": ("メールアドレス", "メール", "eメール", "email", "e-mail", "mail"),
    "phone": ("電話番号", "電話", "phone", "tel", "telephone"),
    "notification_urls": ("通知先", "通知先url", "notification_urls", "notificationurls"),
    "home_lat": ("緯度", "自宅緯度", "home_lat", "homelat", "lat", "latitude"),
    "home_lon": ("経度", "自宅経度", "home_lon", "homelon", "lon", "lng", "longitude"),
    "note": ("備考", "メモ", "note", "notes", "memo"),
    "district": ("地区", "district"),
}

# Kind as written in a file: Japanese names people use, the code names and English labels.
KIND_NAMES_JA: dict[SupporterKind, str] = {
    SupporterKind.community_supporter: "地域支え合いサポーター",
    SupporterKind.care_prevention_supporter: "介護予防サポーター",
    SupporterKind.dementia_supporter: "オレンジサポーター",
    SupporterKind.care_manager: "ケアマネジャー",
    SupporterKind.welfare_commissioner: "民生委員",
    SupporterKind.ward_head: "区長",
    SupporterKind.council_member: "協議体メンバー",
    SupporterKind.other: "その他",
}
_KIND_ALIASES: dict[str, SupporterKind] = {
    "認知症サポーター": SupporterKind.dementia_supporter,
    "オレンジサポーター(認知症サポーター)": SupporterKind.dementia_supporter,
    "ケアマネージャー": SupporterKind.care_manager,
    "ケアマネ": SupporterKind.care_manager,
    "介護支援専門員": SupporterKind.care_manager,
    "民生委員・児童委員": SupporterKind.welfare_commissioner,
    "民生・児童委員": SupporterKind.welfare_commissioner,
    "地域支えあいサポーター": SupporterKind.community_supporter,
    "支え合いサポーター": SupporterKind.community_supporter,
    "協議体委員": SupporterKind.council_member,
    "community supporter": SupporterKind.community_supporter,
    "care-prevention supporter": SupporterKind.care_prevention_supporter,
    "care prevention supporter": SupporterKind.care_prevention_supporter,
    "orange supporter": SupporterKind.dementia_supporter,
    "orange (dementia) supporter": SupporterKind.dementia_supporter,
    "dementia supporter": SupporterKind.dementia_supporter,
    "care manager": SupporterKind.care_manager,
    "welfare commissioner": SupporterKind.welfare_commissioner,
    "ward head": SupporterKind.ward_head,
    "council member": SupporterKind.council_member,
}

# Excel runs a cell that starts with one of these as a formula; exports neutralise it with a
# leading apostrophe, imports take that apostrophe off again.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class CsvFileError(ValueError):
    """The upload as a whole cannot be read; the message is shown on the form."""

    def __init__(self, message: LazyString | str) -> None:
        super().__init__(str(message))
        self.message = message


@dataclass
class RawRow:
    """One data row: its row number as Excel shows it and its cells by field name."""

    row_number: int
    values: dict[str, str]


@dataclass
class CsvTable:
    """A decoded file: which header each field came from, ignored headers, the rows."""

    encoding: str
    headers: dict[str, str]
    ignored_columns: list[str] = field(default_factory=list)
    rows: list[RawRow] = field(default_factory=list)


def _squash(value: str) -> str:
    return "".join(unicodedata.normalize("NFKC", value).split()).lower()


_HEADER_LOOKUP = {
    _squash(alias): name for name, aliases in _HEADER_ALIASES.items() for alias in aliases
}
_KIND_LOOKUP: dict[str, SupporterKind] = {
    **{_squash(k.value): k for k in SupporterKind},
    **{_squash(v): k for k, v in KIND_NAMES_JA.items()},
    **{_squash(k): v for k, v in _KIND_ALIASES.items()},
}


def kind_names() -> list[tuple[str, str, str]]:
    """(Japanese name, code name, label in the user's language) of every kind a CSV may
    name, for the import page."""
    return [(KIND_NAMES_JA[k], k.value, str(label(SupporterKind, k))) for k in SupporterKind]


def parse_kind(value: str) -> SupporterKind | None:
    """The kind named by a cell (Japanese name, code name or English label), or None."""
    return _KIND_LOOKUP.get(_squash(value))


def decode_upload(data: bytes) -> tuple[str, str]:
    """Decode an uploaded CSV: BOM -> utf-8-sig; valid UTF-8 -> utf-8; else CP932."""
    if not data.strip():
        raise CsvFileError(_l("The file is empty."))
    if data.startswith(b"PK\x03\x04"):
        raise CsvFileError(
            _l(
                "This is an Excel workbook, not a CSV file. In Excel choose "
                "“Save as” and the type “CSV UTF-8” or “CSV”, then upload that."
            )
        )
    if b"\x00" in data:
        raise CsvFileError(_l("This file is not a CSV text file."))
    candidates = ["utf-8-sig"] if data.startswith(b"\xef\xbb\xbf") else ["utf-8", "cp932"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n" for ch in text):
            break
        return text, encoding
    raise CsvFileError(_l("This file is not a CSV text file in UTF-8 or Shift_JIS (CP932)."))


def _uncell(value: str) -> str:
    value = value.strip()
    if len(value) > 1 and value[0] == "'" and value[1] in _FORMULA_STARTS:
        return value[1:]
    return value


def read_table(text: str, encoding: str = "", max_rows: int = MAX_ROWS) -> CsvTable:
    """Split decoded text into a header map and rows numbered as Excel numbers them."""
    reader = csv.reader(io.StringIO(text, newline=""))
    headers: dict[str, str] = {}
    columns: list[str | None] = []
    ignored: list[str] = []
    rows: list[RawRow] = []
    try:
        for index, cells in enumerate(reader, start=1):
            if not any(c.strip() for c in cells):
                continue
            if not columns:
                if len(cells) > MAX_COLUMNS:
                    raise CsvFileError(_l("The file has too many columns."))
                for cell in cells:
                    name = _HEADER_LOOKUP.get(_squash(cell))
                    if name is None or name in headers:
                        columns.append(None)
                        if cell.strip():
                            ignored.append(cell.strip()[:100])
                        continue
                    headers[name] = cell.strip()
                    columns.append(name)
                if "name" not in headers:
                    raise CsvFileError(
                        _l("The first row must name the columns, with at least 氏名 (or name).")
                    )
                continue
            if len(rows) >= max_rows:
                limit = f"{max_rows:,}"
                raise CsvFileError(
                    _l(
                        "The file has more than %(max)s rows. Please split it into several files.",
                        max=limit,
                    )
                )
            values = {
                name: _uncell(cell)
                for name, cell in zip(columns, cells, strict=False)
                if name is not None
            }
            rows.append(RawRow(index, values))
    except csv.Error as exc:
        raise CsvFileError(_l("The file could not be read as CSV.")) from exc
    if not columns:
        raise CsvFileError(_l("The file is empty."))
    return CsvTable(encoding=encoding, headers=headers, ignored_columns=ignored, rows=rows)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def write_table(rows: Iterable[Sequence[object]], encoding: str) -> bytes:
    """CSV bytes with the Japanese headers; characters CP932 lacks become "?" there."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unsupported encoding {encoding!r}")
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header for _, header in FIELDS])
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue().encode(encoding, errors="replace")
