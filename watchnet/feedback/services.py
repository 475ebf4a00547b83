"""Use cases of drill feedback: record it (once per form), sort it into themes, choose quotes,
and summarise it for the reflection page, the report and the newsletter."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import mean
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.insert_once import insert_once, insert_or_get
from watchnet.core.timefmt import to_local
from watchnet.drills.models import Drill, Participant, ParticipantRole, Team
from watchnet.feedback.labels import (
    GAVE_NAME_LABELS,
    SCALE_FIELDS,
    asks,
    theme_label,
    viewpoint_label,
)
from watchnet.feedback.models import (
    THEME_NAME_MAX,
    Feedback,
    FeedbackTheme,
    GaveNameFirst,
    PresetTheme,
    Viewpoint,
)
from watchnet.people.models import StaffUser, Supporter

# The viewpoint a participant's role suggests on the phone.
ROLE_VIEWPOINT = {
    ParticipantRole.walker: Viewpoint.caller,
    ParticipantRole.role_player: Viewpoint.called,
    ParticipantRole.observer: Viewpoint.observer,
}
PHONE_VIEWPOINTS = (Viewpoint.caller, Viewpoint.called, Viewpoint.observer)


@dataclass
class FeedbackAnswers:
    """The answers of one feedback form, already parsed (None = not answered)."""

    viewpoint: Viewpoint
    client_id: str
    team_id: int | None = None
    safe_approach: int | None = None
    gave_name_first: GaveNameFirst | None = None
    location_ease: int | None = None
    confidence_alone: int | None = None
    text: str = ""


def get_participation(drill: Drill, supporter: Supporter) -> Participant | None:
    """The supporter's participation in the drill, or None."""
    return db.session.scalar(
        sa.select(Participant).where(
            Participant.drill_id == drill.id, Participant.supporter_id == supporter.id
        )
    )


def suggested_viewpoint(participant: Participant) -> Viewpoint:
    """The viewpoint a participant most likely gives feedback from."""
    return ROLE_VIEWPOINT.get(participant.role, Viewpoint.caller)


def _check_answers(drill: Drill, answers: FeedbackAnswers) -> None:
    if answers.team_id is not None:
        team = db.session.get(Team, answers.team_id)
        if team is None or team.drill_id != drill.id:
            raise UserInputError(_l("Choose one of this drill's teams."), field="team_id")
    if answers.viewpoint == Viewpoint.called and answers.team_id is None and drill.teams:
        raise UserInputError(_l("Choose the team that called out to you."), field="team_id")
    for name in SCALE_FIELDS:
        value = getattr(answers, name)
        if value is not None and not 1 <= value <= 5:
            raise UserInputError(_l("Choose a number from 1 to 5."), field=name)


def _existing(
    supporter: Supporter | None, staff: StaffUser | None, client_id: str
) -> Feedback | None:
    if supporter is not None:
        where = Feedback.supporter_id == supporter.id
    elif staff is not None:
        where = Feedback.staff_id == staff.id
    else:
        return None
    return db.session.scalar(sa.select(Feedback).where(where, Feedback.client_id == client_id))


def record_feedback(
    drill: Drill,
    answers: FeedbackAnswers,
    *,
    supporter: Supporter | None = None,
    staff: StaffUser | None = None,
) -> tuple[Feedback, bool]:
    """Store one feedback form; the same form sent again (same client_id) is stored once.

    Returns the feedback and whether it is new. Questions the viewpoint does not ask are
    dropped. A supporter must take part in the drill.
    """
    if supporter is not None and get_participation(drill, supporter) is None:
        raise UserInputError(
            _l("This supporter does not take part in the drill."), field="supporter_id"
        )
    existing = _existing(supporter, staff, answers.client_id)
    if existing is not None:
        return existing, False
    _check_answers(drill, answers)
    vp = answers.viewpoint
    feedback = Feedback(
        drill_id=drill.id,
        viewpoint=vp,
        client_id=answers.client_id,
        supporter_id=supporter.id if supporter else None,
        staff_id=staff.id if staff else None,
        team_id=answers.team_id,
        safe_approach=answers.safe_approach if asks(vp, "safe_approach") else None,
        gave_name_first=answers.gave_name_first if asks(vp, "gave_name_first") else None,
        location_ease=answers.location_ease if asks(vp, "location_ease") else None,
        confidence_alone=answers.confidence_alone if asks(vp, "confidence_alone") else None,
        text=answers.text.strip(),
    )
    # Two taps of a slow phone can race: the unique key decides, the loser gets the winner.
    return insert_or_get(feedback, lambda: _existing(supporter, staff, answers.client_id))


def teams_given_feedback(drill: Drill, supporter: Supporter) -> set[int]:
    """Ids of the teams this role-player has already given feedback on."""
    return set(
        db.session.scalars(
            sa.select(Feedback.team_id).where(
                Feedback.drill_id == drill.id,
                Feedback.supporter_id == supporter.id,
                Feedback.viewpoint == Viewpoint.called,
                Feedback.team_id.is_not(None),
            )
        )
    )


def feedback_for_drill(drill: Drill) -> list[Feedback]:
    """Every feedback of the drill, oldest first, with authors, team and themes loaded."""
    return list(
        db.session.scalars(
            sa.select(Feedback)
            .where(Feedback.drill_id == drill.id)
            .options(
                selectinload(Feedback.supporter),
                selectinload(Feedback.staff),
                selectinload(Feedback.team),
                selectinload(Feedback.themes),
            )
            .order_by(Feedback.created_at, Feedback.id)
        )
    )


def get_feedback_or_404_in(drill: Drill, feedback_id: int) -> Feedback | None:
    """One feedback of this drill, or None (another drill's id is not found either)."""
    feedback = db.session.get(Feedback, feedback_id)
    return feedback if feedback is not None and feedback.drill_id == drill.id else None


# ---------------------------------------------------------------------------------------------
# Themes and quotes


def ensure_preset_themes(drill: Drill) -> list[FeedbackTheme]:
    """Create the preset themes of the drill if they are missing; return all its themes."""
    have = set(
        db.session.scalars(
            sa.select(FeedbackTheme.preset).where(
                FeedbackTheme.drill_id == drill.id, FeedbackTheme.preset.is_not(None)
            )
        )
    )
    for preset in PresetTheme:
        if preset in have:
            continue
        # Another request may create it at the same moment; then its row stands.
        insert_once(FeedbackTheme(drill_id=drill.id, preset=preset, name=preset.value))
    return list_themes(drill)


def list_themes(drill: Drill) -> list[FeedbackTheme]:
    """The drill's themes: presets first, then the organizer's in the order they were added."""
    return list(
        db.session.scalars(
            sa.select(FeedbackTheme)
            .where(FeedbackTheme.drill_id == drill.id)
            .order_by(FeedbackTheme.preset.is_(None), FeedbackTheme.id)
        )
    )


def add_theme(drill: Drill, name: str) -> FeedbackTheme:
    """Add a theme of the organizer's own; the same name twice is refused."""
    name = " ".join(name.split())
    if not name:
        raise UserInputError(_l("Enter a name for the theme."), field="name")
    if len(name) > THEME_NAME_MAX:
        raise UserInputError(_l("The name is too long."), field="name")
    taken = {theme_label(t.preset, t.name).casefold() for t in ensure_preset_themes(drill)}
    if name.casefold() in taken:
        raise UserInputError(_l("This drill already has a theme with this name."), field="name")
    theme = FeedbackTheme(drill_id=drill.id, name=name)
    db.session.add(theme)
    db.session.flush()
    return theme


def curate_feedback(
    drill: Drill, feedback: Feedback, theme_ids: Sequence[int], is_quote_chosen: bool
) -> Feedback:
    """Sort one feedback into themes and mark whether it is quoted in the newsletter."""
    themes = {t.id: t for t in list_themes(drill)}
    unknown = [i for i in theme_ids if i not in themes]
    if unknown:
        raise UserInputError(_l("Choose themes of this drill."), field="theme_ids")
    if is_quote_chosen and not feedback.text.strip():
        raise UserInputError(_l("Only feedback with words can be quoted."), field="is_quote_chosen")
    feedback.themes = [themes[i] for i in sorted(set(theme_ids))]
    feedback.is_quote_chosen = is_quote_chosen
    db.session.flush()
    return feedback


def chosen_quotes(drill: Drill) -> dict[str, list[str]]:
    """The texts the organizer chose for the newsletter, per viewpoint (every viewpoint a key)."""
    quotes: dict[str, list[str]] = {vp.value: [] for vp in Viewpoint}
    rows = db.session.execute(
        sa.select(Feedback.viewpoint, Feedback.text)
        .where(Feedback.drill_id == drill.id, Feedback.is_quote_chosen.is_(True))
        .order_by(Feedback.created_at, Feedback.id)
    )
    for viewpoint, text in rows:
        if text.strip():
            quotes[str(viewpoint)].append(text.strip())
    return quotes


def feedback_summary(drill: Drill) -> dict[str, Any]:
    """Counts and the average of each 1–5 scale per viewpoint (None where nobody answered).

    {"count": n, "by_viewpoint": {viewpoint: {"count", "safe_approach", "location_ease",
    "confidence_alone", "gave_name_first": {"yes", "no", "unsure"}}}}
    """
    items = list(db.session.scalars(sa.select(Feedback).where(Feedback.drill_id == drill.id)))
    by_viewpoint: dict[str, dict[str, Any]] = {}
    for vp in Viewpoint:
        mine = [f for f in items if f.viewpoint == vp]
        entry: dict[str, Any] = {"count": len(mine)}
        for name in SCALE_FIELDS:
            values = [getattr(f, name) for f in mine if getattr(f, name) is not None]
            entry[name] = round(mean(values), 2) if values else None
        entry["gave_name_first"] = {
            g.value: sum(1 for f in mine if f.gave_name_first == g) for g in GaveNameFirst
        }
        by_viewpoint[vp.value] = entry
    return {"count": len(items), "by_viewpoint": by_viewpoint}


# ---------------------------------------------------------------------------------------------
# The viewpoints page: both sides of each theme


# Which scale of the form speaks to which preset theme (shown as averages beside the quotes).
THEME_SCALE = {
    PresetTheme.location: "location_ease",
    PresetTheme.confidence_alone: "confidence_alone",
    PresetTheme.approach: "safe_approach",
}
# The columns of the page: the two sides of an encounter, then everyone who watched.
COLUMNS: tuple[tuple[str, tuple[Viewpoint, ...]], ...] = (
    ("caller", (Viewpoint.caller,)),
    ("called", (Viewpoint.called,)),
    ("others", (Viewpoint.observer, Viewpoint.organizer)),
)


@dataclass
class ThemeGroup:
    """One row of the viewpoints page: a theme and its feedback per column."""

    theme: FeedbackTheme | None  # None: feedback not yet sorted into any theme
    title: str
    columns: dict[str, list[Feedback]] = field(default_factory=dict)
    # Per column: the average of the theme's scale, or for "own name" the yes/asked counts.
    figures: dict[str, str] = field(default_factory=dict)


def _figure(
    theme: FeedbackTheme, summary: dict[str, Any], viewpoints: tuple[Viewpoint, ...]
) -> str:
    if theme.preset == PresetTheme.own_name:
        yes = sum(summary[v]["gave_name_first"]["yes"] for v in viewpoints)
        asked = sum(sum(summary[v]["gave_name_first"].values()) for v in viewpoints)
        return (
            gettext("Name given first: %(yes)d of %(asked)d", yes=yes, asked=asked) if asked else ""
        )
    scale = THEME_SCALE.get(theme.preset) if theme.preset else None
    if scale is None:
        return ""
    values = [summary[v][scale] for v in viewpoints if summary[v][scale] is not None]
    if not values:
        return ""
    return gettext("Average %(value)s of 5", value=f"{mean(values):.1f}")


def viewpoint_board(drill: Drill) -> list[ThemeGroup]:
    """Feedback grouped by theme, with caller, called and the others side by side."""
    themes = ensure_preset_themes(drill)
    items = feedback_for_drill(drill)
    summary = feedback_summary(drill)["by_viewpoint"]
    groups: list[ThemeGroup] = []
    for theme in [*themes, None]:
        if theme is None:
            chosen = [f for f in items if not f.themes and f.text.strip()]
            title = gettext("Not sorted into a theme yet")
        else:
            chosen = [f for f in items if theme in f.themes]
            title = theme_label(theme.preset, theme.name)
        group = ThemeGroup(theme, title)
        for key, viewpoints in COLUMNS:
            group.columns[key] = [f for f in chosen if f.viewpoint in viewpoints]
            group.figures[key] = _figure(theme, summary, viewpoints) if theme else ""
        groups.append(group)
    return groups


def role_player_views(drill: Drill) -> list[tuple[Team, list[Feedback]]]:
    """What the role-players said about each team, team by team (teams without any too)."""
    items = [f for f in feedback_for_drill(drill) if f.viewpoint == Viewpoint.called]
    return [(team, [f for f in items if f.team_id == team.id]) for team in drill.teams]


# ---------------------------------------------------------------------------------------------
# CSV export


def _scale(value: int | None) -> str:
    return "" if value is None else str(value)


def feedback_csv(drill: Drill) -> str:
    """All feedback of the drill as CSV text (the caller adds a BOM for Excel)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            gettext("Date and time"),
            gettext("Viewpoint"),
            gettext("Name"),
            gettext("Team"),
            gettext("Safe approach (1-5)"),
            gettext("Gave own name first"),
            gettext("Telling the location (1-5)"),
            gettext("Coping alone (1-5)"),
            gettext("Themes"),
            gettext("Chosen for the newsletter"),
            gettext("Feedback"),
            gettext("Entered by"),
        ]
    )
    for f in feedback_for_drill(drill):
        writer.writerow(
            [
                to_local(f.created_at).strftime("%Y-%m-%d %H:%M"),
                viewpoint_label(f.viewpoint),
                _csv_safe(f.author_name),
                _csv_safe(f.team.name) if f.team else "",
                _scale(f.safe_approach),
                str(GAVE_NAME_LABELS[f.gave_name_first]) if f.gave_name_first else "",
                _scale(f.location_ease),
                _scale(f.confidence_alone),
                " / ".join(theme_label(t.preset, t.name) for t in f.themes),
                "1" if f.is_quote_chosen else "",
                _csv_safe(f.text),
                _csv_safe(f.staff.name) if f.staff is not None and f.supporter is not None else "",
            ]
        )
    return out.getvalue()


def _csv_safe(text: str) -> str:
    """Keep Excel from running a cell that starts like a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
