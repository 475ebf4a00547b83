"""Forms of the drill planning pages. Length limits match the columns."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from watchnet.core.errors import UserInputError
from watchnet.core.labels import choices
from watchnet.core.phones import PhoneNumber
from watchnet.core.timefmt import to_local
from watchnet.core.validation import SafeForm, YearWindow
from watchnet.drills.models import Drill, DrillStatus, ExpectedContact
from watchnet.drills.schemas import CHECKPOINT_NAME_MAX
from watchnet.drills.services import (
    CHECKLIST_ITEM_MAX,
    CHECKLIST_MAX_ITEMS,
    DAY_PHONE_INVALID,
    CheckpointFields,
    DrillFields,
    check_drill_times,
    drill_times,
    parse_checklist,
)

TEXT_MAX = 4000  # purpose and background are Text columns; a page of text is plenty


class DrillForm(SafeForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    district_id = SelectField(_l("District"), coerce=int, validators=[InputRequired()])
    date = DateField(_l("Date"), validators=[InputRequired(), YearWindow()])
    start_time = TimeField(_l("Start time"), validators=[InputRequired()])
    end_time = TimeField(_l("End time"), validators=[Optional()])
    meeting_place = StringField(_l("Meeting place"), validators=[Optional(), Length(max=200)])
    contact_phone = StringField(
        _l("Number to call on the day"),
        render_kw={"type": "tel"},
        validators=[Optional(), Length(max=30), PhoneNumber(DAY_PHONE_INVALID)],
    )
    contact_label = StringField(
        _l("Who answers this number"), validators=[Optional(), Length(max=100)]
    )
    purpose = TextAreaField(_l("Purpose"), validators=[Optional(), Length(max=TEXT_MAX)])
    background = TextAreaField(_l("Background"), validators=[Optional(), Length(max=TEXT_MAX)])
    status = SelectField(
        _l("Status"), choices=choices(DrillStatus), default=DrillStatus.planned.value
    )

    def validate_end_time(self, field: Any) -> None:
        # The services' rule, so the form and the API refuse the same times; an end time
        # earlier than the start time is on the next day.
        if field.data is None or self.start_time.data is None or self.date.data is None:
            return
        try:
            check_drill_times(*drill_times(self.date.data, self.start_time.data, field.data))
        except UserInputError as exc:
            raise ValidationError(str(exc)) from exc

    def fill_from(self, drill: Drill) -> None:
        """Show a drill's stored (UTC) values in local time."""
        starts = to_local(drill.starts_at)
        self.title.data = drill.title
        self.district_id.data = drill.district_id
        self.date.data = starts.date()
        self.start_time.data = starts.time().replace(tzinfo=None)
        self.end_time.data = (
            to_local(drill.ends_at).time().replace(tzinfo=None) if drill.ends_at else None
        )
        self.meeting_place.data = drill.meeting_place
        self.contact_phone.data = drill.contact_phone
        self.contact_label.data = drill.contact_label
        self.purpose.data = drill.purpose
        self.background.data = drill.background
        self.status.data = drill.status.value

    def to_fields(self) -> DrillFields:
        """The parsed values, with times converted from local time to UTC."""
        starts, ends = drill_times(self.date.data, self.start_time.data, self.end_time.data)
        return DrillFields(
            district_id=self.district_id.data,
            title=self.title.data or "",
            starts_at=starts,
            ends_at=ends,
            meeting_place=self.meeting_place.data or "",
            purpose=self.purpose.data or "",
            background=self.background.data or "",
            status=DrillStatus(self.status.data),
            contact_phone=self.contact_phone.data or "",
            contact_label=self.contact_label.data or "",
        )


class CopyDrillForm(DrillForm):
    """A new drill from a past one: its facts to change (the date first), and whether the
    teams come along. The route, checkpoints and scenarios always do."""

    copy_teams = BooleanField(_l("Also copy the teams and who walks in them"), default=False)

    def fill_from_source(self, source: Drill) -> None:
        self.fill_from(source)
        self.date.data = None  # a copy is for another day: the organizer picks it
        self.status.data = DrillStatus.planned.value


class CheckpointForm(SafeForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=CHECKPOINT_NAME_MAX)])
    role_player = StringField(_l("Role-player"), validators=[Optional(), Length(max=100)])
    scenario_wear = TextAreaField(_l("What they wear"), validators=[Optional(), Length(max=1000)])
    scenario_say = TextAreaField(_l("What they say"), validators=[Optional(), Length(max=1000)])
    scenario_do = TextAreaField(_l("What they do"), validators=[Optional(), Length(max=1000)])
    expected_contact = SelectField(_l("Expected contact"), choices=choices(ExpectedContact))
    expected_contact_note = StringField(
        _l("Note on the contact"), validators=[Optional(), Length(max=200)]
    )
    checklist = TextAreaField(
        _l("Checklist (one item per line)"), validators=[Optional(), Length(max=4000)]
    )

    def validate_checklist(self, field: Any) -> None:
        items = parse_checklist(field.data or "")
        if len(items) > CHECKLIST_MAX_ITEMS:
            raise ValidationError(_l("At most %(n)d items.", n=CHECKLIST_MAX_ITEMS))
        if any(len(item) > CHECKLIST_ITEM_MAX for item in items):
            raise ValidationError(
                _l("Each item has at most %(max)d characters.", max=CHECKLIST_ITEM_MAX)
            )

    def to_fields(self) -> CheckpointFields:
        return CheckpointFields(
            name=self.name.data or "",
            role_player=self.role_player.data or "",
            scenario_wear=self.scenario_wear.data or "",
            scenario_say=self.scenario_say.data or "",
            scenario_do=self.scenario_do.data or "",
            expected_contact=ExpectedContact(self.expected_contact.data),
            expected_contact_note=self.expected_contact_note.data or "",
            checklist=tuple(parse_checklist(self.checklist.data or "")),
        )


class GpxImportForm(SafeForm):
    file = FileField(_l("GPX file"), validators=[FileRequired()])
    replace = BooleanField(
        _l("Replace the current route and checkpoints"),
        validators=[DataRequired(_l("Please confirm the replacement."))],
    )


class ConfirmForm(SafeForm):
    """A form with only the CSRF token, for confirmed actions such as deleting."""
