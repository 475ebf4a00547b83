"""User-facing wording of the feedback enums and questions (msgids in English)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from watchnet.feedback.models import GaveNameFirst, PresetTheme, Viewpoint

VIEWPOINT_LABELS: dict[str, LazyString] = {
    Viewpoint.caller: _l("The one who called out"),
    Viewpoint.called: _l("The one called out to (role-player)"),
    Viewpoint.observer: _l("Observer"),
    Viewpoint.organizer: _l("Organizer"),
}

# What a supporter taps on the phone to choose their viewpoint.
VIEWPOINT_CHOICES: dict[str, LazyString] = {
    Viewpoint.caller: _l("I called out to someone"),
    Viewpoint.called: _l("I played the person walking alone"),
    Viewpoint.observer: _l("I watched as an observer"),
}

GAVE_NAME_LABELS: dict[str, LazyString] = {
    GaveNameFirst.yes: _l("Yes"),
    GaveNameFirst.no: _l("No"),
    GaveNameFirst.unsure: _l("Not sure"),
}

PRESET_THEME_LABELS: dict[str, LazyString] = {
    PresetTheme.location: _l("Telling the location"),
    PresetTheme.confidence_alone: _l("Coping alone"),
    PresetTheme.own_name: _l("Giving one's own name first"),
    PresetTheme.approach: _l("How to approach"),
}

# The questions, worded for each viewpoint. A question missing for a viewpoint is not asked.
QUESTIONS: dict[str, dict[str, LazyString]] = {
    "safe_approach": {
        Viewpoint.caller: _l("Was your approach calm and safe?"),
        Viewpoint.called: _l("Did the approach feel safe to you?"),
        Viewpoint.observer: _l("Did the approach look calm and safe?"),
        Viewpoint.organizer: _l("Did the approaches look calm and safe?"),
    },
    "gave_name_first": {
        Viewpoint.caller: _l("Did you give your own name first?"),
        Viewpoint.called: _l("Did they give their own name first?"),
        Viewpoint.observer: _l("Did the caller give their own name first?"),
        Viewpoint.organizer: _l("Did the callers give their own names first?"),
    },
    "location_ease": {
        Viewpoint.caller: _l("How easy was it to tell your location by phone?"),
        Viewpoint.observer: _l("How easy did telling the location look?"),
        Viewpoint.organizer: _l("How easy was it for the teams to tell their location?"),
    },
    "confidence_alone": {
        Viewpoint.caller: _l("Could you cope alone next time?"),
        Viewpoint.observer: _l("Could you cope alone next time?"),
    },
}

# The words at the two ends of each 1–5 scale.
SCALE_ENDS: dict[str, tuple[LazyString, LazyString]] = {
    "safe_approach": (_l("Not at all"), _l("Very much")),
    "location_ease": (_l("Very hard"), _l("Very easy")),
    "confidence_alone": (_l("Not at all"), _l("Fully")),
}

SCALE_FIELDS = ("safe_approach", "location_ease", "confidence_alone")


def viewpoint_label(value: str | Viewpoint | None) -> str:
    """The label of a viewpoint ("" for None)."""
    return str(VIEWPOINT_LABELS.get(str(value), value or "")) if value else ""


def theme_label(preset: str | None, name: str) -> str:
    """A preset theme's translated name, else the organizer's own name for it."""
    if preset:
        return str(PRESET_THEME_LABELS.get(str(preset), name))
    return name


def asks(viewpoint: str | Viewpoint, question: str) -> bool:
    """Whether the form for this viewpoint asks this question."""
    return str(viewpoint) in QUESTIONS[question]
