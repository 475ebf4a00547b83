"""Staff of another district, supporters and anonymous visitors reach no supporter page."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from watchnet.core.extensions import db
from watchnet.people.models import Supporter, SupporterImport


@pytest.fixture()
def batch(organizer_client, district):
    data = "氏名,ふりがな,種別\n山田 太郎,やまだ たろう,区長\n".encode("utf-8-sig")
    response = organizer_client.post(
        "/supporters/import",
        data={"district_id": str(district.id), "file": (io.BytesIO(data), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    return db.session.scalar(sa.select(SupporterImport))


def _routes(supporter, batch):
    s, b = supporter.id, batch.id
    return [
        ("GET", f"/supporters/{s}"),
        ("GET", f"/supporters/{s}/edit"),
        ("POST", f"/supporters/{s}/edit"),
        ("GET", f"/supporters/{s}/card"),
        ("POST", f"/supporters/{s}/revoke-link"),
        ("POST", f"/supporters/{s}/deactivate"),
        ("POST", f"/supporters/{s}/reactivate"),
        ("GET", f"/supporters/import/{b}"),
        ("POST", f"/supporters/import/{b}/confirm"),
        ("GET", f"/supporters/export.csv?district={supporter.district_id}"),
    ]


def test_outsider_gets_404_on_every_supporter_route_of_another_district(
    outsider_client, supporter, batch
):
    for method, url in _routes(supporter, batch):
        response = outsider_client.open(url, method=method, data={"confirm": "y"})
        assert response.status_code == 404, (method, url)
    db.session.expire_all()
    assert db.session.get(Supporter, supporter.id).token_version == 1
    assert db.session.get(Supporter, supporter.id).is_active
    assert db.session.get(SupporterImport, batch.id).confirmed_at is None


def test_outsider_cannot_register_or_import_into_another_district(outsider_client, district):
    response = outsider_client.post(
        "/supporters/new",
        data={
            "name": "侵入 者",
            "name_kana": "しんにゅう しゃ",
            "kind": "other",
            "district_id": str(district.id),
        },
    )
    assert response.status_code in (400, 404)
    response = outsider_client.post(
        "/supporters/import",
        data={"district_id": str(district.id), "file": (io.BytesIO(b"name\nx\n"), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code in (400, 404)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Supporter)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SupporterImport)) == 0


STAFF_PAGES = ["/supporters", "/supporters/new", "/supporters/import", "/supporters/export.csv"]


def test_a_supporter_gets_403_on_staff_pages(supporter_client, supporter, batch):
    for method, url in [("GET", u) for u in STAFF_PAGES] + _routes(supporter, batch):
        assert supporter_client.open(url, method=method).status_code == 403, url


def test_anonymous_visitors_are_sent_to_the_login(app, supporter, batch):
    client = app.test_client()
    for method, url in [("GET", u) for u in STAFF_PAGES] + _routes(supporter, batch):
        response = client.open(url, method=method)
        assert response.status_code == 302, url
        assert "/login" in response.headers["Location"]


def test_staff_and_anonymous_visitors_get_403_on_my_page(app, organizer_client):
    assert organizer_client.get("/me").status_code == 403
    assert app.test_client().get("/me").status_code == 403


def test_unknown_supporter_is_404(organizer_client):
    assert organizer_client.get("/supporters/999999").status_code == 404
    assert organizer_client.get("/supporters/import/999999").status_code == 404
