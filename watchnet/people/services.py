"""Use cases for staff accounts and supporters."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from watchnet.audit.services import record_audit
from watchnet.districts.models import District
from watchnet.extensions import db
from watchnet.people.models import (
    NotificationAddress,
    StaffRole,
    StaffUser,
    Supporter,
    SupporterKind,
)


class UserInputError(ValueError):
    """A domain rule refused the input; the message is shown to the user."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def create_staff_user(email: str, name: str, role: str, password: str,
                      district_names: Sequence[str] = ()) -> StaffUser:
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


def round_home_position(lat: float | None, lon: float | None) -> tuple[float | None, float | None]:
    """Keep a home position approximate (about 100 m): enough to find nearby supporters."""
    if lat is None or lon is None:
        return None, None
    return round(lat, 3), round(lon, 3)


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
    email = (email or "").strip() or None
    key = Supporter.make_dedupe_key(name, name_kana, email)
    exists = db.session.scalar(
        sa.select(Supporter.id).where(Supporter.district_id == district.id,
                                      Supporter.dedupe_key == key)
    )
    if exists:
        raise UserInputError("this supporter is registered already", "email" if email else "name")
    lat, lon = round_home_position(home_lat, home_lon)
    supporter = Supporter(
        district_id=district.id, name=name.strip(), name_kana=name_kana.strip(),
        kind=SupporterKind(kind), email=email, phone=(phone or "").strip() or None,
        home_lat=lat, home_lon=lon, note=note, dedupe_key=key,
        notification_addresses=[NotificationAddress(url=u.strip()) for u in notification_urls
                                if u.strip()],
    )
    db.session.add(supporter)
    db.session.flush()
    record_audit("supporter.registered", "supporter", supporter.id, district.id)
    return supporter
