"""Address points from an address file, so "where am I" can name an address offline.

The file is MLIT's 街区レベル位置参照情報 (国土数値情報 位置参照情報ダウンロードサービス):
one CSV per prefecture in Shift_JIS (CP932), usually inside a ZIP, with the columns (16.0a
and later) 都道府県名, 市区町村名, 大字・丁目名, 小字・通称名, 街区符号・地番, 座標系番号,
Ｘ座標, Ｙ座標, 緯度, 経度, 住居表示フラグ, 代表フラグ, 更新前履歴フラグ, 更新後履歴フラグ.
Headers are compared after NFKC and without 「・」「_」 and spaces, so older files (without
小字・通称名), headers written 「大字_町丁目名」 and copies saved again as UTF-8 read alike;
the 大字・町丁目レベル file (no 街区符号・地番) reads too, its points naming the town only.

The file is read as a stream and stored in batches (a prefecture has a few hundred thousand
rows); a second import of the same file adds nothing; a row that cannot be used is counted
with its line number and the import goes on.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, cast

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from watchnet.core import geo
from watchnet.core.bulk import insert_ignoring_conflicts
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.districts.models import AddressImport, AddressPoint, District

BATCH_ROWS = 5000  # rows per INSERT ... ON CONFLICT DO NOTHING, and per commit of the CLI
BAD_LINES_KEPT = 50  # bad rows remembered on the import's record (all are counted)
SNIFF_BYTES = 64 * 1024

# Japan, generously (Okinotorishima to Etorofu): a point outside is a broken row.
_JAPAN = (20.0, 122.0, 46.0, 154.0)

# Column lengths of address_point; a longer value is a broken row, not a truncated name.
_LIMITS = {"prefecture": 20, "city": 60, "town": 120, "subtown": 120, "block": 60}

# The file's header names (normalised by _header_key) for each value we keep.
_HEADERS: dict[str, tuple[str, ...]] = {
    "prefecture": ("都道府県名",),
    "city": ("市区町村名",),
    "town": ("大字丁目名", "大字町丁目名"),
    "subtown": ("小字通称名",),
    "block": ("街区符号地番",),
    "lat": ("緯度",),
    "lon": ("経度",),
    "residential": ("住居表示フラグ",),
}
_REQUIRED = ("prefecture", "city", "lat", "lon")
_NO_TOWN = {"（大字なし）", "(大字なし)"}

# Why a row was refused; the CLI prints the English text, the staff page the translation.
BAD_REASONS = {
    "columns": _l("wrong number of columns"),
    "encoding": _l("characters that cannot be read in this encoding"),
    "name": _l("no prefecture or city name"),
    "position": _l("latitude or longitude missing or outside Japan"),
    "too_long": _l("a name longer than the table allows"),
}

_COLUMNS = (
    "point_key",
    "prefecture",
    "city",
    "town",
    "subtown",
    "block",
    "is_residential",
    "lat",
    "lon",
)


class AddressFileError(Exception):
    """The file is not an address file that can be read at all (nothing was imported)."""


@dataclass
class ImportReport:
    """What one import read, added and refused."""

    file_name: str
    encoding: str
    import_id: int = 0
    rows_read: int = 0
    added: int = 0
    existing: int = 0  # already loaded (an earlier import) or repeated in the file
    other_city: int = 0
    bad: int = 0
    bad_lines: list[tuple[int, str]] = field(default_factory=list)


def _header_key(name: str) -> str:
    return re.sub(r"[・_\s\ufeff\"]", "", unicodedata.normalize("NFKC", name))


def _same_name(a: str, b: str) -> bool:
    return _header_key(a) == _header_key(b)


def sniff_encoding(head: bytes) -> str:
    """UTF-8 (with or without BOM) when the file's start decodes as UTF-8, else CP932."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        # Not final: the sample may end inside a character.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "cp932"
    return "utf-8-sig"


@contextmanager
def _open_binary(path: Path) -> Iterator[tuple[IO[bytes], str]]:
    """The CSV's bytes: the file itself, or the first CSV inside a ZIP (MLIT's download)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = sorted(n for n in archive.namelist() if n.lower().endswith(".csv"))
            if not names:
                raise AddressFileError(str(_l("The ZIP file holds no CSV file.")))
            with archive.open(names[0]) as member:
                yield member, f"{path.name}/{names[0]}"
    else:
        with path.open("rb") as fh:
            yield fh, path.name


def _columns(header: list[str]) -> dict[str, int]:
    """Where each kept value is in a row, from the header; AddressFileError if one needed is
    missing."""
    keys = [_header_key(name) for name in header]
    found: dict[str, int] = {}
    for value, names in _HEADERS.items():
        for i, key in enumerate(keys):
            if key in names:
                found[value] = i
                break
    missing = [_HEADERS[value][0] for value in _REQUIRED if value not in found]
    if missing:
        raise AddressFileError(
            str(
                _l(
                    "This is not an address file of the 位置参照情報 kind: the columns "
                    "%(missing)s are missing (the first line has: %(header)s).",
                    missing="、".join(missing),
                    header=_printable(", ".join(header[:8]))[:200] or "-",
                )
            )
        )
    return found


def _printable(text: str) -> str:
    return "".join(ch for ch in text if ch.isprintable())


def point_key(values: dict[str, Any]) -> str:
    """The identity of a point: its names and its position (see AddressPoint.point_key)."""
    text = "\x1f".join(
        [
            values["prefecture"],
            values["city"],
            values["town"],
            values["subtown"],
            values["block"],
            f"{values['lat']:.6f}",
            f"{values['lon']:.6f}",
        ]
    )
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def parse_row(row: list[str], columns: dict[str, int]) -> dict[str, Any] | str:
    """One CSV row as an address_point row, or the code of why it cannot be used."""
    if len(row) <= max(columns.values()):
        return "columns"
    if any("\ufffd" in cell for cell in row):
        return "encoding"

    def text(name: str) -> str:
        index = columns.get(name)
        return row[index].strip() if index is not None else ""

    values: dict[str, Any] = {name: text(name) for name in _LIMITS}
    if values["town"] in _NO_TOWN:
        values["town"] = ""
    if not values["prefecture"] or not values["city"]:
        return "name"
    if any(len(values[name]) > limit for name, limit in _LIMITS.items()):
        return "too_long"
    try:
        lat, lon = float(text("lat")), float(text("lon"))
    except ValueError:
        return "position"
    if not geo.is_valid_latlon(lat, lon) or not (
        _JAPAN[0] <= lat <= _JAPAN[2] and _JAPAN[1] <= lon <= _JAPAN[3]
    ):
        return "position"
    values["lat"], values["lon"] = lat, lon
    values["is_residential"] = text("residential") == "1"
    values["point_key"] = point_key(values)
    return values


def _rows(reader: Any) -> Iterator[tuple[int, list[str] | None]]:
    """The reader's rows with their line numbers; None for a line the csv module refused."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield reader.line_num, None
            continue
        yield reader.line_num, row


def import_address_file(
    path: Path,
    *,
    district: District | None = None,
    city: str = "",
    commit: Callable[[], None] | None = None,
) -> ImportReport:
    """Read an address file and add its points (those of `city` only, if given), batch by
    batch; returns the counts. `commit` runs after each batch (the CLI commits there, so a
    prefecture's file does not hold one long transaction); without it the caller commits.
    Raises AddressFileError when the file cannot be read as an address file at all."""
    with _open_binary(path) as (raw, name):
        encoding = sniff_encoding(raw.read(SNIFF_BYTES))
        raw.seek(0)
        text = io.TextIOWrapper(
            cast(IO[bytes], raw), encoding=encoding, errors="replace", newline=""
        )
        reader = csv.reader(text)
        try:
            header = next(reader)
        except (StopIteration, csv.Error) as exc:
            raise AddressFileError(str(_l("The file is empty or not a CSV file."))) from exc
        columns = _columns(header)
        report = ImportReport(file_name=name[:255], encoding=encoding)
        record = AddressImport(
            file_name=report.file_name,
            district_id=district.id if district is not None else None,
            city_filter=city,
            encoding=encoding,
        )
        db.session.add(record)
        db.session.flush()
        report.import_id = record.id
        imported_at = utcnow()
        table = cast(sa.Table, AddressPoint.__table__)
        shared = {"district_id": record.district_id, "imported_at": imported_at}
        batch: list[dict[str, Any]] = []

        def store() -> None:
            if batch:
                added = insert_ignoring_conflicts(
                    table, batch, columns=_COLUMNS, conflict=("point_key",), shared=shared
                )
                report.added += added
                report.existing += len(batch) - added
                batch.clear()
            _save(record, report)
            if commit is not None:
                commit()

        for line, row in _rows(reader):
            if row is not None and not any(cell.strip() for cell in row):
                continue  # a blank line
            report.rows_read += 1
            parsed = parse_row(row, columns) if row is not None else "columns"
            if isinstance(parsed, str):
                report.bad += 1
                report.bad_lines.append((line, parsed))
                continue
            if city and not _same_name(parsed["city"], city):
                report.other_city += 1
                continue
            batch.append(parsed)
            if len(batch) >= BATCH_ROWS:
                store()
        record.finished_at = utcnow()
        store()
    return report


def _save(record: AddressImport, report: ImportReport) -> None:
    record.rows_read = report.rows_read
    record.added = report.added
    record.existing = report.existing
    record.other_city = report.other_city
    record.bad = report.bad
    record.bad_lines = [list(item) for item in report.bad_lines[:BAD_LINES_KEPT]]
    db.session.flush()


def clear_address_points(city: str = "", district: District | None = None) -> int:
    """Delete the address points of a city (or of a district's imports, or all); returns how
    many. Before importing a newer year's file, so blocks that were renamed do not stay."""
    stmt = sa.delete(AddressPoint)
    if city:
        stmt = stmt.where(AddressPoint.city == city.strip())
    if district is not None:
        stmt = stmt.where(AddressPoint.district_id == district.id)
    return int(getattr(db.session.execute(stmt), "rowcount", 0) or 0)


# ---------------------------------------------------------------------------------------------
# Looking up


def nearest_address_point(
    lat: float, lon: float, radius_m: float
) -> tuple[AddressPoint, float] | None:
    """The address point nearest a position within `radius_m`, with its distance in metres,
    or None."""
    min_lat, min_lon, max_lat, max_lon = geo.bounding_box((lat, lon), radius_m)
    candidates = db.session.scalars(
        sa.select(AddressPoint).where(
            AddressPoint.lat.between(min_lat, max_lat), AddressPoint.lon.between(min_lon, max_lon)
        )
    )
    best: tuple[AddressPoint, float] | None = None
    for point in candidates:
        d = geo.haversine_m((lat, lon), (point.lat, point.lon))
        if d <= radius_m and (best is None or d < best[1]):
            best = (point, d)
    return best


def address_text(point: AddressPoint) -> str:
    """The address as it is written and read aloud: 高崎市八幡町123番地, 杉並区西荻北四丁目27番."""
    block = point.block
    if block and block[-1].isdigit():
        # 住居表示 areas number blocks (番); elsewhere the number is a lot (番地).
        block += "番" if point.is_residential else "番地"
    return f"{point.city}{point.town}{point.subtown}{block}"


def town_text(point: AddressPoint) -> str:
    """The town of a point, for "in the area of": 高崎市八幡町."""
    return f"{point.city}{point.town}"


# ---------------------------------------------------------------------------------------------
# The staff page


@dataclass(frozen=True)
class CityCount:
    prefecture: str
    city: str
    points: int
    last_imported_at: datetime | None


def address_counts(district_ids: set[int] | None = None) -> list[CityCount]:
    """Address points per city, with when points were last added; only those imported for
    `district_ids` or for no district, when given."""
    stmt = (
        sa.select(
            AddressPoint.prefecture,
            AddressPoint.city,
            sa.func.count(),
            sa.func.max(AddressPoint.imported_at),
        )
        .group_by(AddressPoint.prefecture, AddressPoint.city)
        .order_by(AddressPoint.prefecture, AddressPoint.city)
    )
    if district_ids is not None:
        stmt = stmt.where(
            sa.or_(AddressPoint.district_id.in_(district_ids), AddressPoint.district_id.is_(None))
        )
    return [
        CityCount(prefecture, city, int(count), last)
        for prefecture, city, count, last in db.session.execute(stmt)
    ]


def recent_imports(district_ids: set[int] | None = None, limit: int = 20) -> list[AddressImport]:
    """The latest import runs, newest first (those for `district_ids` or no district)."""
    stmt = sa.select(AddressImport).order_by(
        AddressImport.started_at.desc(), AddressImport.id.desc()
    )
    if district_ids is not None:
        stmt = stmt.where(
            sa.or_(AddressImport.district_id.in_(district_ids), AddressImport.district_id.is_(None))
        )
    return list(db.session.scalars(stmt.limit(limit)))
