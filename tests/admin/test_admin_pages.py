"""Administrators manage staff accounts and districts; nobody else can."""

from __future__ import annotations

import sqlalchemy as sa
from support import login

from watchnet.core.extensions import db
from watchnet.districts.models import District
from watchnet.people.models import StaffUser


def test_an_admin_creates_an_organizer_for_one_district(app, make_staff, district, other_district):
    admin = make_staff(role="admin", email="admin@example.jp")
    client = login(app.test_client(), admin)
    response = client.post(
        "/admin/staff/new",
        data={
            "email": "New.Organizer@Example.jp",
            "name": "新 主催者",
            "role": "organizer",
            "district_ids": [str(district.id)],
            "password": "long-enough-1",
            "is_active": "y",
        },
    )
    assert response.status_code == 302
    user = db.session.scalar(
        sa.select(StaffUser).where(StaffUser.email == "new.organizer@example.jp")
    )
    assert [d.name for d in user.districts] == ["八幡地区"]
    assert user.check_password("long-enough-1")
    fresh = app.test_client()
    response = fresh.post("/login", data={"email": user.email, "password": "long-enough-1"})
    assert response.status_code == 302


def test_a_new_account_without_password_or_with_a_taken_email_is_refused(
    app, make_staff, organizer
):
    admin = make_staff(role="admin", email="admin@example.jp", locale="en")
    client = login(app.test_client(), admin)
    before = db.session.scalar(sa.select(sa.func.count()).select_from(StaffUser))
    r1 = client.post(
        "/admin/staff/new", data={"email": "x@example.jp", "name": "X", "role": "organizer"}
    )
    assert r1.status_code == 422 and "needs a password" in r1.get_data(as_text=True)
    r2 = client.post(
        "/admin/staff/new",
        data={
            "email": organizer.email,
            "name": "X",
            "role": "organizer",
            "password": "long-enough-1",
        },
    )
    assert r2.status_code == 422 and "Another account uses" in r2.get_data(as_text=True)
    r3 = client.post(
        "/admin/staff/new",
        data={
            "email": "y@example.jp",
            "name": "Y" * 10_000,
            "role": "organizer",
            "password": "long-enough-1",
        },
    )
    assert r3.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StaffUser)) == before


def test_districts_are_created_with_a_map_centre_in_range(app, make_staff):
    admin = make_staff(role="admin", email="admin@example.jp")
    client = login(app.test_client(), admin)
    bad = client.post(
        "/admin/districts/new", data={"name": "北地区", "center_lat": "91", "center_lon": "139"}
    )
    assert bad.status_code == 422
    ok = client.post(
        "/admin/districts/new",
        data={
            "name": "<b>北地区</b>",
            "name_kana": "きたちく",
            "center_lat": "36.4",
            "center_lon": "139.0",
        },
    )
    assert ok.status_code == 302
    assert db.session.scalar(sa.select(District.name)) == "<b>北地区</b>"
    html = client.get("/admin/districts").get_data(as_text=True)
    assert "&lt;b&gt;北地区&lt;/b&gt;" in html


def test_organizers_and_coordinators_cannot_open_administration(organizer_client, app, coordinator):
    assert organizer_client.get("/admin/staff").status_code == 403
    assert login(app.test_client(), coordinator).get("/admin/districts/new").status_code == 403
