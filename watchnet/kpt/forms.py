"""Forms of the newsletter page and the action-item buttons. Length limits match the columns."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, TextAreaField
from wtforms.validators import Length, Optional

from watchnet.core.validation import SafeForm
from watchnet.kpt.models import NEWSLETTER_SECTION_MAX


class NewsletterForm(SafeForm):
    purpose = TextAreaField(
        _l("[Purpose]"), validators=[Optional(), Length(max=NEWSLETTER_SECTION_MAX)]
    )
    background = TextAreaField(
        _l("[Background]"), validators=[Optional(), Length(max=NEWSLETTER_SECTION_MAX)]
    )
    happenings = TextAreaField(
        _l("[What happened]"), validators=[Optional(), Length(max=NEWSLETTER_SECTION_MAX)]
    )
    future = TextAreaField(
        _l("[From now on]"), validators=[Optional(), Length(max=NEWSLETTER_SECTION_MAX)]
    )
    redraft = HiddenField(_l("Draft again"))


class CloseActionForm(SafeForm):
    # The drill page the item was closed on (the next drill of the district), if any.
    closed_in_drill_id = HiddenField()
