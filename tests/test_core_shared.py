"""The shared pieces of watchnet.core: labels beside their enums, the recipient's language,
public links, insert-once and the refusal helpers."""

from __future__ import annotations

from enum import StrEnum

import pytest
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField

from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.i18n import locale_chooser, recipient_locale
from watchnet.core.insert_once import insert_once, insert_or_get
from watchnet.core.labels import choices, label, register_labels
from watchnet.core.models import GeocodeCache
from watchnet.core.refusal import refuse_form, refuse_json
from watchnet.core.urls import public_url
from watchnet.drills.models import DrillStatus


def test_an_enum_member_without_a_label_is_refused_at_registration():
    class Colour(StrEnum):
        red = "red"
        blue = "blue"

    with pytest.raises(ValueError, match="blue"):
        register_labels(Colour, {"red": _l("Red")})


def test_labels_registered_beside_the_enum_are_translated(app):
    with app.test_request_context(headers={"Accept-Language": "ja"}):
        assert label(DrillStatus, "live") == "実施中"
        assert [c.value for c in choices(DrillStatus)] == ["planned", "live", "ended"]
        assert label(DrillStatus, None) == ""


def test_a_message_is_written_in_the_recipients_language_if_offered_else_the_default(app):
    with app.app_context():
        assert recipient_locale("en") == "en"
        assert recipient_locale("fr") == "ja"
        assert recipient_locale(None) == "ja"
        choose = locale_chooser()
        assert [choose(x) for x in ("en", "xx", None)] == ["en", "ja", "ja"]


def test_public_links_use_the_public_base_url_then_the_request_then_the_path(app):
    with app.test_request_context(base_url="http://10.0.0.5:8000/"):
        assert public_url("alert_field.show", token="t1") == "http://10.0.0.5:8000/a/t1"
        app.config["PUBLIC_BASE_URL"] = "https://mimamori.example.jp/"
        try:
            assert public_url("alert_field.show", token="t1") == "https://mimamori.example.jp/a/t1"
        finally:
            app.config["PUBLIC_BASE_URL"] = None
    with app.app_context():  # a job: no request, no SERVER_NAME
        assert public_url("alert_field.show", "/a/t1", token="t1") == "/a/t1"


def test_the_second_insert_of_the_same_key_gets_the_first_row_and_the_transaction_goes_on(app):
    with app.app_context():
        # The "other request" wrote its rows with plain SQL, so this session's identity map
        # does not know them: only the unique index can tell.
        db.session.execute(sa.insert(GeocodeCache).values(key="k1", address="八幡1丁目"))
        assert not insert_once(GeocodeCache(key="k1", address="別の住所"))
        assert insert_once(GeocodeCache(key="k3", address="三"))
        db.session.execute(sa.insert(GeocodeCache).values(key="k2", address="一"))

        def find():
            return db.session.get(GeocodeCache, "k2")

        winner, created = insert_or_get(GeocodeCache(key="k2", address="二"), find)
        assert not created and winner.address == "一"
        db.session.commit()
        stored = db.session.execute(sa.select(GeocodeCache.key, GeocodeCache.address)).all()
        assert sorted(stored) == [("k1", "八幡1丁目"), ("k2", "一"), ("k3", "三")]


class _NameForm(FlaskForm):
    class Meta:
        csrf = False

    name = StringField()


def test_a_refusal_goes_next_to_its_field_or_above_the_form_and_nothing_is_kept(app):
    with app.test_request_context(method="POST"):
        db.session.add(GeocodeCache(key="unsaved", address="x"))
        form = _NameForm()
        refuse_form(form, UserInputError("This name is taken.", "name"))
        assert form.name.errors == ["This name is taken."]
        refuse_form(form, UserInputError("Try again later."))
        assert form.form_errors == ["Try again later."]
        assert db.session.get(GeocodeCache, "unsaved") is None


def test_a_json_refusal_has_the_scripts_error_shape(app):
    with app.test_request_context():
        response, status = refuse_json(UserInputError("Too long.", "text"))
        assert status == 422
        assert response.get_json() == {
            "code": 422,
            "message": "Too long.",
            "errors": {"text": ["Too long."]},
        }
