"""Use cases for staff accounts and supporters: create a staff account, register, change,
deactivate and reactivate supporters.

Elsewhere in people/: the checks of a supporter's values (validation.py), finding supporters
(queries.py), QR codes (qr.py), the CSV import and export (import_export.py, csv_io.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from watchnet.audit.services import record_audit
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.districts.models import District
from watchnet.people.models import (
    NotificationAddress,
    StaffRole,
    StaffUser,
    Supporter,
    SupporterKind,
)
from watchnet.people.validation import SupporterValues, check_supporter_values, problem


def create_staff_user(
    email: str, name: str, role: str, password: str, district_names: Sequence[str] = ()
) -> StaffUser:
    """Create a staff account with a hashed password, attached to the named districts."""
    email = email.strip().lower()
    if len(password) < 8:
        raise UserInputError("password must have at least 8 characters", "password")
    if db.session.scalar(sa.select(StaffUser).where(sa.func.lower(StaffUser.email) == email)):
        raise UserInputError(f"a user with e-mail {email} exists already", "email")
    try:
        staff_role = StaffRole(role)
    except ValueError as exc:
        raise UserInputError(f"unknown role {role!r}", "role") from exc
    districts = []
    for dname in district_names:
        district = db.session.scalar(sa.select(District).where(District.name == dname))
        if district is None:
            raise UserInputError(f"unknown district {dname!r}", "district")
        districts.append(district)
    user = StaffUser(email=email, name=name.strip(), role=staff_role, districts=districts)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record_audit("staff.created", "staff_user", user.id, actor="system")
    return user


# ---------------------------------------------------------------------------------------------
# Registering and changing supporters


def _key_taken(district_id: int, key: str, except_id: int | None = None) -> bool:
    stmt = sa.select(Supporter.id).where(
        Supporter.district_id == district_id, Supporter.dedupe_key == key
    )
    if except_id is not None:
        stmt = stmt.where(Supporter.id != except_id)
    return db.session.scalar(stmt.limit(1)) is not None


def new_supporter(district_id: int, values: SupporterValues) -> Supporter:
    """A Supporter row from checked values (not yet added to the session)."""
    return Supporter(
        district_id=district_id,
        name=values.name,
        name_kana=values.name_kana,
        kind=values.kind,
        email=values.email,
        phone=values.phone,
        home_lat=values.home_lat,
        home_lon=values.home_lon,
        note=values.note,
        dedupe_key=values.dedupe_key,
        notification_addresses=[NotificationAddress(url=u) for u in values.notification_urls],
    )


def register_supporter(
    district: District,
    name: str,
    name_kana: str,
    kind: SupporterKind | str,
    email: str | None = None,
    phone: str | None = None,
    home_lat: float | None = None,
    home_lon: float | None = None,
    notification_urls: Sequence[str] = (),
    note: str = "",
) -> Supporter:
    """Register a supporter in a district; refuses a second registration of the same person."""
    values = check_supporter_values(
        name, name_kana, kind, email, phone, home_lat, home_lon, notification_urls, note
    )
    if _key_taken(district.id, values.dedupe_key):
        raise problem("duplicate", "email" if values.email else "name")
    supporter = new_supporter(district.id, values)
    db.session.add(supporter)
    db.session.flush()
    record_audit("supporter.registered", "supporter", supporter.id, district.id)
    return supporter


def update_supporter(
    supporter: Supporter,
    district: District,
    name: str,
    name_kana: str,
    kind: SupporterKind | str,
    email: str | None = None,
    phone: str | None = None,
    home_lat: float | None = None,
    home_lon: float | None = None,
    notification_urls: Sequence[str] = (),
    note: str = "",
) -> Supporter:
    """Change a supporter's details; refuses to turn them into someone registered already."""
    values = check_supporter_values(
        name, name_kana, kind, email, phone, home_lat, home_lon, notification_urls, note
    )
    if _key_taken(district.id, values.dedupe_key, except_id=supporter.id):
        raise problem("duplicate", "email" if values.email else "name")
    supporter.district_id = district.id
    supporter.district = district
    for attr in ("name", "name_kana", "kind", "email", "phone", "home_lat", "home_lon", "note"):
        setattr(supporter, attr, getattr(values, attr))
    supporter.dedupe_key = values.dedupe_key
    # Keep the rows of addresses that stay, so their delivery state (disabled, reason) survives.
    kept = {a.url: a for a in supporter.notification_addresses}
    supporter.notification_addresses = [
        kept.get(u) or NotificationAddress(url=u) for u in dict.fromkeys(values.notification_urls)
    ]
    db.session.flush()
    record_audit("supporter.updated", "supporter", supporter.id, district.id)
    return supporter


def set_supporter_active(supporter: Supporter, active: bool) -> None:
    """Deactivate (every personal link and phone session ends, they get no notices) or
    reactivate a supporter, which issues a new link: the old link and sessions stay refused."""
    from watchnet.auth.services import end_personal_access, issue_new_link

    supporter.is_active = active
    replaced = (
        issue_new_link(supporter, reactivating=True) if active else end_personal_access(supporter)
    )
    action = "supporter.reactivated" if active else "supporter.deactivated"
    record_audit(
        action,
        "supporter",
        supporter.id,
        supporter.district_id,
        link_version=supporter.token_version,
        alert_links_replaced=replaced,
    )
    db.session.flush()
