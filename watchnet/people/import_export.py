"""Supporters in and out of spreadsheets: the CSV import (a stored preview, then one
confirmation) and the CSV export. The file format is people/csv_io.py; the upload is read and
checked row by row in people/forms.py (read_supporter_csv) before it reaches these services.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from watchnet.audit.services import record_audit
from watchnet.core.dbtypes import utcnow
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.districts.models import District
from watchnet.people import csv_io
from watchnet.people.forms import CheckedImport
from watchnet.people.models import StaffUser, Supporter, SupporterImport, SupporterKind
from watchnet.people.queries import supporters_query
from watchnet.people.services import new_supporter
from watchnet.people.validation import SupporterValues

IMPORT_KEEP_UNCONFIRMED = timedelta(days=1)
IMPORT_KEEP_CONFIRMED = timedelta(days=30)


def _purge_old_imports() -> None:
    now = utcnow()
    db.session.execute(
        sa.delete(SupporterImport).where(
            sa.or_(
                sa.and_(
                    SupporterImport.confirmed_at.is_(None),
                    SupporterImport.created_at < now - IMPORT_KEEP_UNCONFIRMED,
                ),
                SupporterImport.created_at < now - IMPORT_KEEP_CONFIRMED,
            )
        )
    )


def prepare_supporter_import(
    district: District, staff: StaffUser | None, filename: str, upload: CheckedImport
) -> SupporterImport:
    """Store a checked upload (people/forms.py: read_supporter_csv) as a preview, each row
    marked new, already registered or repeated; nothing is registered until confirmed."""
    existing = set(
        db.session.scalars(
            sa.select(Supporter.dedupe_key).where(Supporter.district_id == district.id)
        )
    )
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    for checked in upload.rows:
        values, errors = checked.values, checked.errors
        key = None
        if errors:
            status = "error"
        else:
            key = Supporter.make_dedupe_key(values["name"], values["name_kana"], values["email"])
            status = "exists" if key in existing else "duplicate" if key in seen else "new"
            seen.add(key)
        rows.append(
            {
                "row": checked.row_number,
                "status": status,
                "key": key,
                "values": values,
                "errors": errors,
            }
        )
    _purge_old_imports()
    batch = SupporterImport(
        district_id=district.id,
        created_by_id=staff.id if staff else None,
        filename=(filename or "")[:255],
        encoding=upload.encoding,
        headers=upload.headers,
        ignored_columns=upload.ignored_columns,
        rows=rows,
    )
    db.session.add(batch)
    db.session.flush()
    record_audit(
        "supporter_import.prepared",
        "supporter_import",
        batch.id,
        district.id,
        rows=len(rows),
        encoding=upload.encoding,
    )
    return batch


class ImportAlreadyConfirmed(UserInputError):
    """The batch was confirmed before; nothing is imported again."""


def confirm_supporter_import(batch: SupporterImport) -> int:
    """Register the batch's new rows in one go; a second confirmation imports nothing."""
    # A conditional UPDATE claims the batch: of two confirmations racing (double click, two
    # workers) only one sees a row change.
    result: sa.CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
        sa.update(SupporterImport)
        .where(SupporterImport.id == batch.id, SupporterImport.confirmed_at.is_(None))
        .values(confirmed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ImportAlreadyConfirmed(
            _l("This import was confirmed already. Nothing was imported again.")
        )
    existing = set(
        db.session.scalars(
            sa.select(Supporter.dedupe_key).where(Supporter.district_id == batch.district_id)
        )
    )
    imported = 0
    for row in batch.rows:
        if row["status"] != "new" or row["key"] in existing:
            continue
        v = row["values"]
        values = SupporterValues(
            name=v["name"],
            name_kana=v["name_kana"],
            kind=SupporterKind(v["kind"]),
            email=v["email"],
            phone=v["phone"],
            home_lat=v["home_lat"],
            home_lon=v["home_lon"],
            notification_urls=list(v["notification_urls"]),
            note=v["note"],
        )
        db.session.add(new_supporter(batch.district_id, values))
        existing.add(row["key"])
        imported += 1
    db.session.flush()
    db.session.refresh(batch)
    batch.imported_count = imported
    batch.skipped_count = len(batch.rows) - imported
    record_audit(
        "supporter.imported",
        "supporter_import",
        batch.id,
        batch.district_id,
        imported=imported,
        skipped=batch.skipped_count,
    )
    db.session.flush()
    return imported


def export_supporters(district_ids: Sequence[int], encoding: str) -> bytes:
    """The districts' supporters (active or not) as a CSV Excel opens, headers the import reads.

    Characters CP932 lacks become "?" in a CP932 file; every export is audited because it
    carries personal data out of the app.
    """
    supporters = db.session.scalars(
        supporters_query(district_ids).options(selectinload(Supporter.notification_addresses))
    ).all()
    rows = (
        [
            s.name,
            s.name_kana,
            csv_io.KIND_NAMES_JA.get(s.kind, s.kind.value),
            s.email or "",
            s.phone or "",
            "\n".join(a.url for a in s.notification_addresses),
            "" if s.home_lat is None else s.home_lat,
            "" if s.home_lon is None else s.home_lon,
            s.note,
            s.district.name,
        ]
        for s in supporters
    )
    data = csv_io.write_table(rows, encoding)
    record_audit(
        "supporter.exported",
        "supporter",
        None,
        district_ids[0] if len(district_ids) == 1 else None,
        districts=sorted(district_ids),
        count=len(supporters),
        encoding=encoding,
    )
    return data
