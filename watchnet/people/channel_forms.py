"""Forms of the channels pages: the supporter's own (e-mail, quiet hours, a phone number, the
test button) and staff's phone number for someone who cannot add it themselves."""

from __future__ import annotations

import secrets
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, RadioField, StringField, TelField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

from watchnet.core.validation import SafeForm
from watchnet.people.channel_services import PRESS_KEY_RE

NUMBER_MAX = 30  # as typed, with hyphens and spaces; stored as E.164 (at most 16)
LABEL_MAX = 100


class EmailChoiceForm(SafeForm):
    """E-mail on or off: the button sends the state it switches to."""

    enabled = HiddenField(
        validators=[InputRequired(), Regexp(r"^(on|off)$", message=_l("Please choose on or off."))]
    )

    @property
    def wants_on(self) -> bool:
        return bool(self.enabled.data == "on")


class QuietHoursForm(SafeForm):
    quiet_start = TimeField(
        _l("From"),
        validators=[Optional()],
        render_kw={"step": 60},
    )
    quiet_end = TimeField(
        _l("Until"),
        validators=[Optional()],
        render_kw={"step": 60},
    )


class SendTestForm(SafeForm):
    """The test button. The key is drawn when the page is drawn, so each press of the button
    on one page is one test however often the request arrives."""

    press_key = HiddenField(
        validators=[
            DataRequired(_l("The form expired. Please reload the page.")),
            Regexp(PRESS_KEY_RE.pattern, message=_l("The form expired. Please reload the page.")),
        ]
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_submitted():
            self.press_key.data = secrets.token_urlsafe(16)


CONSENT_TEXT = _l(
    "I agree that watchnet sends search requests and drill messages to this number as SMS "
    "or automated calls, also at night for a real search. Charges for receiving may apply "
    "depending on my contract. I can remove the number here at any time."
)

USE_CHOICES = [
    SelectChoice("sms_voice", _l("SMS and calls")),
    SelectChoice("sms", _l("SMS only")),
    SelectChoice("voice", _l("Calls only")),
]


class PhoneChannelForm(SafeForm):
    """A supporter adds their own number."""

    number = TelField(
        _l("Phone number"),
        validators=[DataRequired(_l("Please enter the phone number.")), Length(max=NUMBER_MAX)],
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )
    use = RadioField(
        _l("How should it reach you?"),
        choices=USE_CHOICES,
        default="sms_voice",
        validators=[InputRequired(_l("Please choose SMS, calls or both."))],
    )
    consent = BooleanField(
        CONSENT_TEXT,
        validators=[DataRequired(_l("Please tick the box to agree; without it nothing is sent."))],
    )

    @property
    def sms(self) -> bool:
        return self.use.data in ("sms_voice", "sms")

    @property
    def voice(self) -> bool:
        return self.use.data in ("sms_voice", "voice")


STAFF_KIND_CHOICES = [
    SelectChoice("landline", _l("Landline (automated calls only)")),
    SelectChoice("mobile", _l("Mobile phone (SMS and calls)")),
]


class StaffPhoneChannelForm(SafeForm):
    """Staff add a number for a supporter who cannot do it themselves (a landline, a feature
    phone), with the person's consent."""

    number = TelField(
        _l("Phone number"),
        validators=[DataRequired(_l("Please enter the phone number.")), Length(max=NUMBER_MAX)],
    )
    kind = RadioField(
        _l("Kind of phone"),
        choices=STAFF_KIND_CHOICES,
        default="landline",
        validators=[InputRequired(_l("Please choose landline or mobile."))],
    )
    label = StringField(
        _l("Label (optional)"),
        validators=[Optional(), Length(max=LABEL_MAX)],
        render_kw={"placeholder": _l("e.g. home")},
    )
    consent = BooleanField(
        _l("I have the person's consent"),
        validators=[DataRequired(_l("Please confirm that you have the person's consent."))],
    )

    @property
    def sms(self) -> bool:
        return bool(self.kind.data == "mobile")

    @property
    def voice(self) -> bool:
        return True


class RemoveForm(SafeForm):
    """An empty form: the CSRF token of a remove button."""
