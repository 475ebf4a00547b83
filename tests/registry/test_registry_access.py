"""Who may see the registry: coordinators (and admins) of the person's district only; every
look at a person's details is in the audit record."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from registry_support import make_person
from support import login, signin_supporter

from watchnet.audit.models import AuditEvent
from watchnet.core.extensions import db


def _urls(district: Any, person: Any) -> list[str]:
    photo_id = person.photos[0].id
    return [
        f"/districts/{district.id}/registry",
        f"/districts/{district.id}/registry/new",
        f"/registry/{person.id}",
        f"/registry/{person.id}/edit",
        f"/registry/{person.id}/consents/new",
        f"/registry/{person.id}/archive",
        f"/registry/photos/{photo_id}",
    ]


def _views() -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.action.like("view_person%"))
            .order_by(AuditEvent.id)
        )
    )


@pytest.mark.parametrize("who", ["organizer", "other_coordinator", "supporter", "anonymous"])
def test_others_cannot_see_the_registry_a_person_or_a_photo(
    app: Flask, district, other_district, make_staff, make_supporter, who
):
    person = make_person(district)
    client: FlaskClient = app.test_client()
    if who == "organizer":
        login(client, make_staff([district], role="organizer"))
    elif who == "other_coordinator":
        login(client, make_staff([other_district], role="coordinator"))
    elif who == "supporter":
        signin_supporter(client, make_supporter(district))
    for url in _urls(district, person):
        response = client.get(url)
        if who == "anonymous":
            assert response.status_code == 302 and "/login" in response.headers["Location"], url
        else:
            assert response.status_code in (403, 404), (url, response.status_code)
        assert person.name not in response.get_data(as_text=True)
        assert response.mimetype != "image/jpeg"
    # Changes are refused as well.
    for url in (
        f"/registry/{person.id}/archive",
        f"/registry/photos/{person.photos[0].id}/remove",
        f"/registry/{person.id}/photos",
    ):
        assert client.post(url).status_code in (302, 400, 403, 404)
    db.session.expire_all()
    assert not person.is_archived and len(person.photos) == 1
    assert _views() == []


def test_coordinator_of_another_district_cannot_list_persons_of_their_own_url_either(
    app: Flask, district, other_district, make_staff
):
    """A coordinator of another district gets 404 even with the right ids (no hint)."""
    person = make_person(district)
    client = login(app.test_client(), make_staff([other_district], role="coordinator"))
    assert client.get(f"/districts/{other_district.id}/registry").status_code == 200
    assert person.name not in client.get(f"/districts/{other_district.id}/registry").get_data(
        as_text=True
    )
    assert client.get(f"/registry/{person.id}").status_code == 404


def test_every_view_of_a_person_is_recorded(app: Flask, district, coordinator):
    person = make_person(district)
    client = login(app.test_client(), coordinator)
    assert client.get(f"/districts/{district.id}/registry").status_code == 200
    assert _views() == []  # the list shows no details beyond the name
    assert client.get(f"/registry/{person.id}").status_code == 200
    assert client.get(f"/registry/photos/{person.photos[0].id}").status_code == 200
    assert client.get(f"/registry/{person.id}/edit").status_code == 200
    views = _views()
    assert [(v.action, v.subject_type, v.detail) for v in views] == [
        ("view_person", "at_risk_person", {"page": "page"}),
        ("view_person_photo", "person_photo", {"person_id": person.id}),
        ("view_person", "at_risk_person", {"page": "edit"}),
    ]
    assert all(v.actor == f"staff:{coordinator.id}" and v.district_id == district.id for v in views)


def test_admin_sees_every_district(app: Flask, district, other_district, make_staff):
    person = make_person(district)
    client = login(app.test_client(), make_staff([], role="admin"))
    assert client.get(f"/registry/{person.id}").status_code == 200
    choice = client.get("/registry").get_data(as_text=True)
    assert district.name in choice and other_district.name in choice


def test_the_menu_entry_leads_a_one_district_coordinator_to_their_registry(
    app, district, coordinator
):
    client = login(app.test_client(), coordinator)
    response = client.get("/registry")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/districts/{district.id}/registry")
