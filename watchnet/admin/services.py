"""Administrators' use cases: staff accounts and districts."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from watchnet.audit.services import record_audit
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.districts.models import District
from watchnet.people.models import StaffRole, StaffUser


def _districts(ids: Sequence[int]) -> list[District]:
    found = list(db.session.scalars(sa.select(District).where(District.id.in_(ids))))
    if len(found) != len(set(ids)):
        raise UserInputError("unknown district", "district_ids")
    return found


def save_staff_user(
    user: StaffUser | None,
    *,
    email: str,
    name: str,
    role: str,
    district_ids: Sequence[int],
    password: str | None,
    is_active: bool,
) -> StaffUser:
    """Create (user=None) or update a staff account; a new account needs a password."""
    email = email.strip().lower()
    clash = db.session.scalar(
        sa.select(StaffUser.id).where(sa.func.lower(StaffUser.email) == email)
    )
    if clash and (user is None or clash != user.id):
        raise UserInputError("exists", "email")
    if user is None:
        if not password:
            raise UserInputError("password required", "password")
        user = StaffUser(email=email, name=name, role=StaffRole(role), password_hash="")
        db.session.add(user)
    user.email, user.name, user.is_active = email, name.strip(), is_active
    user.role = StaffRole(role)
    user.districts = _districts(district_ids)
    if password:
        user.set_password(password)
    db.session.flush()
    record_audit(
        "staff.saved",
        "staff_user",
        user.id,
        role=str(role),
        districts=sorted(district_ids),
        password_changed=bool(password),
    )
    return user


def save_district(
    district: District | None, *, name: str, name_kana: str, center_lat: float, center_lon: float
) -> District:
    """Create (district=None) or update a district."""
    name = name.strip()
    clash = db.session.scalar(sa.select(District.id).where(District.name == name))
    if clash and (district is None or clash != district.id):
        raise UserInputError("exists", "name")
    if district is None:
        district = District(name=name, center_lat=center_lat, center_lon=center_lon)
        db.session.add(district)
    district.name, district.name_kana = name, name_kana.strip()
    district.center_lat, district.center_lon = center_lat, center_lon
    db.session.flush()
    record_audit("district.saved", "district", district.id, district.id)
    return district
