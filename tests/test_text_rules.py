"""Text that cannot fool anyone: phone numbers normalised and dialled as digits, the kana rule
in the API as in the forms, invisible and bidirectional controls removed, duplicate checks on
the normalised form; and a 5xx that still happens is logged with an id the user sees."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from watchnet.auth.services import issue_api_token
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.phones import normalise_phone, phone_text, tel_href
from watchnet.core.validation import clean_block, clean_line, normalise_name
from watchnet.districts.models import Landmark
from watchnet.drills.models import Drill, Team
from watchnet.people.models import Supporter
from watchnet.people.services import register_supporter
from watchnet.registry.models import AtRiskPerson, FamilyContact

JA = {"Accept-Language": "ja"}


@pytest.fixture()
def coordinator_client(app: Any, coordinator: Any) -> Any:
    from support import login

    return login(app.test_client(), coordinator)


@pytest.fixture()
def auth(organizer: Any) -> dict[str, str]:
    _token, raw = issue_api_token(organizer, "text rules")
    db.session.commit()
    return {"Authorization": f"Bearer {raw}", **JA}


# ---------------------------------------------------------------------------------------------
# Pure rules


@pytest.mark.parametrize(
    ("typed", "shown", "href"),
    [
        ("０９０－１２３４－５６７８", "090-1234-5678", "tel:09012345678"),
        ("０２７０ー２０ー１２３４", "0270-20-1234", "tel:0270201234"),
        (" 090‐1234‐5678 ", "090-1234-5678", "tel:09012345678"),
        ("（0270）20-1234", "(0270)20-1234", "tel:0270201234"),
    ],
)
def test_phone_numbers_are_normalised_and_dialled_as_digits(typed, shown, href):
    assert normalise_phone(typed) == shown == phone_text(typed)
    assert tel_href(typed) == href


def test_invisible_and_bidirectional_controls_are_removed():
    assert clean_line("\u202e山田\u200b太郎\u2066\ufeff\u00ad\u200f ") == "山田太郎"
    assert clean_line("a\x00b\tc\nd") == "a b c d"
    assert clean_block("一行目\r\n\u202e二行目\x00") == "一行目\n二行目"
    assert normalise_name("山田　太郎\u200b") == normalise_name(" 山田  太郎 ") == "山田 太郎"
    assert normalise_name("ＡＢＣ") == "abc"


# ---------------------------------------------------------------------------------------------
# Phones in the registry


def _register(client: Any, district: Any, phone: str, care_phone: str = "") -> Any:
    return client.post(
        f"/districts/{district.id}/registry/new",
        data={
            "name": "見守 一郎",
            "name_kana": "みまもり いちろう",
            "sex": "unknown",
            "build": "unknown",
            "walking_ability": "independent",
            "care_manager_phone": care_phone,
            "contacts-0-name": "見守 花子",
            "contacts-0-relation": "長女",
            "contacts-0-phone": phone,
            "consent-given_by_name": "見守 花子",
            "consent-given_on": "2026-01-05",
            "consent-scopes": ["share_with_supporters"],
        },
        headers=JA,
    )


def test_registry_phone_numbers_are_stored_normalised(coordinator_client, district):
    response = _register(
        coordinator_client,
        district,
        "０９０－１２３４－５６７８",
        care_phone="０２７０－２０－１２３４",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    person = db.session.scalar(sa.select(AtRiskPerson))
    assert person.contacts[0].phone == "090-1234-5678"
    assert person.care_manager_phone == "0270-20-1234"


def test_a_registry_phone_that_cannot_be_dialled_is_refused(coordinator_client, district):
    response = _register(coordinator_client, district, "電話してね")
    assert response.status_code == 400
    assert "電話番号" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AtRiskPerson)) == 0


def test_rows_stored_as_typed_are_shown_and_dialled_normalised(coordinator_client, district):
    _register(coordinator_client, district, "090-1234-5678")
    person = db.session.scalar(sa.select(AtRiskPerson))
    # A row saved before numbers were normalised on the way in.
    db.session.execute(sa.update(FamilyContact).values(phone="０９０－１２３４－５６７８"))
    db.session.execute(
        sa.update(AtRiskPerson).values(
            care_manager_name="ケア 太郎", care_manager_phone="０２７０ー２０ー１２３４"
        )
    )
    db.session.commit()
    html = coordinator_client.get(f"/registry/{person.id}", headers=JA).get_data(as_text=True)
    assert 'href="tel:09012345678"' in html and ">090-1234-5678</a>" in html
    assert 'href="tel:0270201234"' in html and ">0270-20-1234</a>" in html
    assert "０９０" not in html


def test_supporter_phones_are_normalised(district):
    supporter = register_supporter(
        district,
        "見守 次郎",
        "みまもり じろう",
        "community_supporter",
        phone="０９０－１２３４－５６７８",
    )
    assert supporter.phone == "090-1234-5678"


# ---------------------------------------------------------------------------------------------
# The kana rule in the API


@pytest.mark.parametrize("kana", ["yamada", "山田たろう", "やまだ1"])
def test_the_api_refuses_kana_the_form_refuses(client, auth, district, kana):
    response = client.post(
        "/api/v1/supporters/",
        headers=auth,
        json={
            "district_id": district.id,
            "name": "山田 太郎",
            "name_kana": kana,
            "kind": "community_supporter",
        },
    )
    assert response.status_code == 422
    assert response.json["errors"]["json"]["name_kana"] == [
        "ひらがなかカタカナだけで入力してください (言葉の間の空白はかまいません)。"
    ]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Supporter)) == 0
    form = client.post("/supporters/new", data={"name_kana": kana})  # anonymous: to login
    assert form.status_code == 302


def test_the_api_accepts_half_width_katakana_as_the_form_does(client, auth, district):
    response = client.post(
        "/api/v1/supporters/",
        headers=auth,
        json={
            "district_id": district.id,
            "name": "山田 太郎",
            "name_kana": "ﾔﾏﾀﾞ ﾀﾛｳ",
            "kind": "community_supporter",
        },
    )
    assert response.status_code == 201, response.json
    assert response.json["name_kana"] == "ヤマダ タロウ"


def test_the_registry_form_has_the_kana_rule(coordinator_client, district):
    response = coordinator_client.post(
        f"/districts/{district.id}/registry/new",
        data={"name": "見守 一郎", "name_kana": "mimamori"},
        headers=JA,
    )
    assert response.status_code == 400
    assert "ひらがなかカタカナだけで入力してください" in response.get_data(as_text=True)


# ---------------------------------------------------------------------------------------------
# Invisible and bidirectional characters in names


def test_bidi_and_zero_width_characters_are_removed_from_names(
    organizer_client, client, auth, district
):
    response = organizer_client.post(
        "/supporters/new",
        data={
            "name": "\u202e見守\u200b 三郎\u2069",
            "name_kana": "みまもり\u200b さぶろう",
            "kind": "community_supporter",
            "district_id": district.id,
        },
        headers=JA,
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    supporter = db.session.scalar(sa.select(Supporter))
    assert (supporter.name, supporter.name_kana) == ("見守 三郎", "みまもり さぶろう")

    created = client.post(
        "/api/v1/drills",
        headers=auth,
        json={
            "district_id": district.id,
            "title": "\u202eまち歩き\u200d訓練\ufeff",
            "starts_at": "2026-03-13T09:30:00",
        },
    )
    assert created.status_code == 201, created.json
    assert created.json["title"] == "まち歩き訓練"
    assert db.session.get_one(Drill, created.json["id"]).title == "まち歩き訓練"


# ---------------------------------------------------------------------------------------------
# Duplicate checks on the normalised form


def test_a_zero_width_space_does_not_make_a_second_supporter(district):
    register_supporter(district, "山田 太郎", "やまだ たろう", "community_supporter")
    db.session.commit()
    for name, kana in (
        ("山田\u200b 太郎", "やまだ たろう"),
        ("山田　太郎", "やまだ　たろう"),
        ("\u202e山田 太郎", "やまだ たろう"),
    ):
        with pytest.raises(UserInputError) as caught:
            register_supporter(district, name, kana, "community_supporter")
        assert caught.value.field == "name"
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Supporter)) == 1


def test_landmark_and_team_names_are_compared_normalised(
    organizer_client, client, auth, district, make_drill
):
    first = client.post(
        f"/api/v1/districts/{district.id}/landmarks",
        headers=auth,
        json={"name": "八幡公民館", "lat": 36.3, "lon": 138.9},
    )
    assert first.status_code == 201
    again = client.post(
        f"/api/v1/districts/{district.id}/landmarks",
        headers=auth,
        json={"name": "八幡\u200b公民館 ", "lat": 36.31, "lon": 138.91},
    )
    assert again.status_code == 422 and "name" in again.json["errors"]["json"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Landmark)) == 1

    drill = make_drill(district)
    created = organizer_client.post(
        f"/drills/{drill.id}/teams/new", data={"new-team-name": "1班", "new-team-color": "#0b5cad"}
    )
    assert created.status_code < 400
    organizer_client.post(
        f"/drills/{drill.id}/teams/new",
        data={"new-team-name": "１班\u200b", "new-team-color": "#b3261e"},
    )
    names = db.session.scalars(sa.select(Team.name).where(Team.drill_id == drill.id)).all()
    assert names == ["1班"]


# ---------------------------------------------------------------------------------------------
# A 5xx that still happens


def test_an_unexpected_error_is_logged_with_an_id_the_user_sees(
    database_url: str, instance_path: Path, caplog: pytest.LogCaptureFixture
):
    from watchnet import create_app

    app = create_app(
        {
            "TESTING": False,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "x",
            "WTF_CSRF_ENABLED": False,
        }
    )

    def broken() -> Any:
        raise RuntimeError("boom in a view")

    app.add_url_rule("/broken", "broken", broken)
    app.add_url_rule("/api/broken", "api_broken", broken)
    app.add_url_rule("/field/broken", "field_broken", broken, methods=["POST"])
    client = app.test_client()
    with caplog.at_level(logging.ERROR, logger="watchnet.errors"):
        page = client.get("/broken", headers=JA)
        api = client.get("/api/broken")
        phone = client.post("/field/broken", json={"lat": 1})
    assert page.status_code == 500 and api.status_code == 500
    assert phone.status_code == 500 and len(phone.json["error_id"]) == 12
    error_id = api.json["error_id"]
    assert len(error_id) == 12
    html = page.get_data(as_text=True)
    assert "エラーID" in html and "boom" not in html
    logged = [r for r in caplog.records if r.name == "watchnet.errors"]
    assert len(logged) == 3 and error_id in logged[1].getMessage()
    assert logged[1].exc_info and "boom in a view" in str(logged[1].exc_info[1])
    assert logged[0].getMessage().split()[2] in html  # the page's id is the logged one


def test_405_answers_keep_their_allow_header(client, auth):
    response = client.delete("/api/v1/drills", headers=auth)
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    page = client.put("/login")
    assert page.status_code == 405 and "POST" in page.headers["Allow"]


# ---------------------------------------------------------------------------------------------
# Text and dates in JSON parsed by hand


def test_kpt_notes_are_cleaned_and_due_dates_checked(organizer_client, district, make_drill):
    from watchnet.kpt.models import KptItem

    drill = make_drill(district)
    created = organizer_client.post(
        f"/drills/{drill.id}/kpt/items",
        headers=JA,
        json={"kind": "try", "text": "\u202e声かけ\x00を増やす\u200b"},
    )
    assert created.status_code == 201, created.get_data(as_text=True)[:300]
    item = db.session.scalars(sa.select(KptItem)).one()
    assert item.text == "声かけを増やす"
    action = organizer_client.post(
        f"/drills/{drill.id}/kpt/items/{item.id}/action",
        headers=JA,
        json={"owner": "事務局", "due_date": "0001-01-01"},
    )
    assert action.status_code == 422
    assert action.json["errors"]["due_date"] == ["2000年から2100年までの日付を入力してください。"]


def test_a_drill_phone_step_note_is_cleaned(app, district, supporter, make_drill):
    from datetime import UTC, datetime, timedelta

    from support import signin_supporter

    from watchnet.drills.models import DrillStatus, Participant
    from watchnet.tracking.models import EncounterStep

    drill = make_drill(
        district, status=DrillStatus.live, starts_at=datetime.now(UTC) - timedelta(minutes=10)
    )
    db.session.add(Participant(drill_id=drill.id, supporter_id=supporter.id))
    db.session.commit()
    phone = signin_supporter(app.test_client(), supporter)
    response = phone.post(
        f"/field/drills/{drill.id}/steps",
        json={
            "client_id": "step-nul-0001",
            "step": "noticed",
            "note": "ゆっくり\x00\u202e話した",
            "done_at": datetime.now(UTC).isoformat(),
        },
    )
    assert response.status_code in (200, 201), response.get_data(as_text=True)[:300]
    assert db.session.scalars(sa.select(EncounterStep.note)).one() == "ゆっくり話した"
