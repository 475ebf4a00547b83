"""Staff register, edit, list and deactivate supporters of their districts."""

from __future__ import annotations

import sqlalchemy as sa

from watchnet.core.extensions import db
from watchnet.people.models import Supporter


def _english(user):
    user.locale = "en"
    db.session.commit()


def _form(district, **overrides):
    data = {
        "name": "見守 一郎",
        "name_kana": "みまもり いちろう",
        "kind": "dementia_supporter",
        "district_id": str(district.id),
        "email": "ichiro@example.jp",
        "phone": "090-1234-5678",
        "notification_urls": "json://hooks.example.jp/watch\nmailto://ichiro@example.jp",
        "home_lat": "36.33351",
        "home_lon": "138.94549",
        "note": "午前のみ",
    }
    data.update(overrides)
    return data


def _supporters():
    return db.session.scalars(sa.select(Supporter).order_by(Supporter.id)).all()


def test_organizer_registers_a_supporter_with_all_details(organizer_client, district):
    response = organizer_client.post("/supporters/new", data=_form(district))
    assert response.status_code == 302
    (supporter,) = _supporters()
    assert supporter.name == "見守 一郎"
    assert supporter.kind == "dementia_supporter"
    assert (supporter.home_lat, supporter.home_lon) == (36.334, 138.945)
    assert [a.url for a in supporter.notification_addresses] == [
        "json://hooks.example.jp/watch",
        "mailto://ichiro@example.jp",
    ]
    page = organizer_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "見守 一郎" in page and "午前のみ" in page


def test_half_width_katakana_is_accepted_and_normalised(organizer_client, district):
    response = organizer_client.post(
        "/supporters/new", data=_form(district, name_kana="ﾐﾏﾓﾘ　ｲﾁﾛｳ")
    )
    assert response.status_code == 302
    assert _supporters()[0].name_kana == "ミマモリ イチロウ"


def test_kana_with_kanji_is_refused_and_nothing_saved(organizer_client, organizer, district):
    _english(organizer)
    response = organizer_client.post("/supporters/new", data=_form(district, name_kana="見守"))
    assert response.status_code == 400
    assert "Use hiragana or katakana only" in response.get_data(as_text=True)
    assert _supporters() == []


def test_latitude_of_91_is_refused(organizer_client, organizer, district):
    _english(organizer)
    response = organizer_client.post("/supporters/new", data=_form(district, home_lat="91"))
    assert response.status_code == 400
    assert "Latitude must be between -90 and 90." in response.get_data(as_text=True)
    assert _supporters() == []


def test_nan_and_text_as_coordinates_are_refused(organizer_client, district):
    for lat in ("nan", "north", "inf"):
        response = organizer_client.post("/supporters/new", data=_form(district, home_lat=lat))
        assert response.status_code == 400, lat
    assert _supporters() == []


def test_latitude_without_longitude_is_refused(organizer_client, organizer, district):
    _english(organizer)
    response = organizer_client.post("/supporters/new", data=_form(district, home_lon=""))
    assert response.status_code == 400
    assert "Give both latitude and longitude, or neither." in response.get_data(as_text=True)


def test_home_position_is_optional(organizer_client, district):
    response = organizer_client.post(
        "/supporters/new", data=_form(district, home_lat="", home_lon="")
    )
    assert response.status_code == 302
    assert _supporters()[0].home_lat is None


def test_a_name_of_ten_thousand_characters_is_refused(organizer_client, district):
    response = organizer_client.post("/supporters/new", data=_form(district, name="長" * 10_000))
    assert response.status_code == 400
    assert _supporters() == []


def test_notification_addresses_need_a_scheme_and_at_most_five(
    organizer_client, organizer, district
):
    _english(organizer)
    response = organizer_client.post(
        "/supporters/new", data=_form(district, notification_urls="hooks.example.jp/watch")
    )
    assert response.status_code == 400
    assert "Not an address with a scheme" in response.get_data(as_text=True)
    six = "\n".join(f"json://h{i}.example.jp" for i in range(6))
    response = organizer_client.post("/supporters/new", data=_form(district, notification_urls=six))
    assert response.status_code == 400
    assert "At most 5 further notification addresses." in response.get_data(as_text=True)
    response = organizer_client.post(
        "/supporters/new", data=_form(district, notification_urls="javascript:alert(1)")
    )
    assert response.status_code == 400
    assert _supporters() == []


def test_script_in_a_name_is_stored_and_shown_as_text(organizer_client, district):
    name = "<script>alert(1)</script>"
    response = organizer_client.post("/supporters/new", data=_form(district, name=name))
    assert response.status_code == 302
    assert _supporters()[0].name == name
    for url in (response.headers["Location"], "/supporters"):
        html = organizer_client.get(url).get_data(as_text=True)
        assert name not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_registering_the_same_person_twice_is_refused(organizer_client, organizer, district):
    _english(organizer)
    assert organizer_client.post("/supporters/new", data=_form(district)).status_code == 302
    again = _form(district, name="別の 名前", name_kana="べつの なまえ", email="ICHIRO@example.jp ")
    response = organizer_client.post("/supporters/new", data=again)
    assert response.status_code == 400
    assert "registered in this district already" in response.get_data(as_text=True)
    assert len(_supporters()) == 1


def test_same_name_and_kana_without_email_is_a_duplicate(organizer_client, district):
    data = _form(district, email="")
    assert organizer_client.post("/supporters/new", data=data).status_code == 302
    response = organizer_client.post(
        "/supporters/new", data=_form(district, email="", name_kana="みまもり  いちろう")
    )
    assert response.status_code == 400
    assert len(_supporters()) == 1


def test_a_district_that_is_not_mine_cannot_be_chosen(organizer_client, district, other_district):
    response = organizer_client.post(
        "/supporters/new", data=_form(district, district_id=str(other_district.id))
    )
    assert response.status_code == 400
    assert _supporters() == []


def test_editing_changes_the_details_and_keeps_addresses(
    organizer_client, district, make_supporter
):
    supporter = make_supporter(district, notification_urls=["json://a.example.jp"])
    address_id = supporter.notification_addresses[0].id
    response = organizer_client.get(f"/supporters/{supporter.id}/edit")
    assert response.status_code == 200
    assert "json://a.example.jp" in response.get_data(as_text=True)
    data = _form(
        district,
        name="新しい 名前",
        name_kana="あたらしい なまえ",
        email="",
        notification_urls="json://a.example.jp\njson://b.example.jp",
    )
    response = organizer_client.post(f"/supporters/{supporter.id}/edit", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    supporter = db.session.get(Supporter, supporter.id)
    assert supporter.name == "新しい 名前"
    assert supporter.email is None
    assert [a.url for a in supporter.notification_addresses] == [
        "json://a.example.jp",
        "json://b.example.jp",
    ]
    assert supporter.notification_addresses[0].id == address_id


def test_editing_into_another_registered_person_is_refused(
    organizer_client, district, make_supporter
):
    first = make_supporter(district, email="first@example.jp")
    second = make_supporter(district, email="second@example.jp")
    response = organizer_client.post(
        f"/supporters/{second.id}/edit", data=_form(district, email="first@example.jp")
    )
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Supporter, second.id).email == "second@example.jp"
    assert first.id != second.id


def test_list_filters_by_kind_text_and_status(organizer_client, district, make_supporter):
    make_supporter(district, name="山田 太郎", name_kana="やまだ たろう", kind="care_manager")
    make_supporter(
        district,
        name="川口 花子",
        name_kana="かわぐち はなこ",
        kind="community_supporter",
        home_lat=36.3,
        home_lon=138.9,
    )
    gone = make_supporter(district, name="森 次郎", name_kana="もり じろう")
    organizer_client.post(f"/supporters/{gone.id}/deactivate")

    html = organizer_client.get("/supporters").get_data(as_text=True)
    assert "山田 太郎" in html and "川口 花子" in html and "森 次郎" not in html
    html = organizer_client.get("/supporters?kind=care_manager").get_data(as_text=True)
    assert "山田 太郎" in html and "川口 花子" not in html
    html = organizer_client.get("/supporters?q=ヤマダ").get_data(as_text=True)
    assert "山田 太郎" in html and "川口 花子" not in html
    html = organizer_client.get("/supporters?status=inactive").get_data(as_text=True)
    assert "森 次郎" in html and "山田 太郎" not in html
    html = organizer_client.get("/supporters?q=100%25").get_data(as_text=True)
    assert "山田 太郎" not in html


def test_list_shows_only_my_districts(organizer_client, district, other_district, make_supporter):
    make_supporter(district, name="八幡 住民")
    make_supporter(other_district, name="寺尾 住民")
    html = organizer_client.get("/supporters").get_data(as_text=True)
    assert "八幡 住民" in html and "寺尾 住民" not in html
    html = organizer_client.get(f"/supporters?district={other_district.id}").get_data(as_text=True)
    assert "寺尾 住民" not in html


def test_deactivating_logs_the_phone_out_and_reactivating_restores(
    organizer_client, supporter, phone
):
    signed_in = phone(supporter)
    assert signed_in.get("/me").status_code == 200
    assert organizer_client.post(f"/supporters/{supporter.id}/deactivate").status_code == 302
    assert signed_in.get("/me").status_code == 403
    organizer_client.post(f"/supporters/{supporter.id}/reactivate")
    db.session.expire_all()
    assert db.session.get(Supporter, supporter.id).is_active
