"""The confirmation form of a practice call: whom to call, and a key so a double submit sends
once."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField
from wtforms.validators import AnyOf, InputRequired, Length, Optional

from watchnet.core.labels import choices
from watchnet.core.validation import SafeForm
from watchnet.practice_calls.models import PracticeAudience

CHOOSE_AUDIENCE = _l("Choose whom to call.")


class PracticeCallForm(SafeForm):
    audience = RadioField(
        _l("Whom to call"),
        choices=choices(PracticeAudience),
        validate_choice=False,  # one message for "none" and "something else", not two
        validators=[
            InputRequired(CHOOSE_AUDIENCE),
            AnyOf([a.value for a in PracticeAudience], message=CHOOSE_AUDIENCE),
        ],
    )
    client_key = HiddenField(validators=[Optional(), Length(max=64)])

    def audience_value(self) -> PracticeAudience:
        return PracticeAudience(self.audience.data)


class CloseForm(SafeForm):
    """Only the CSRF token: ending a practice call."""
