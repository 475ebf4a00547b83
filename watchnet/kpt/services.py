"""Keep / Problem / Try board, action items, report and newsletter: one function per use case.

Functions flush and leave the commit to the caller (the view).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any, NotRequired, TypedDict

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from watchnet.core import timefmt
from watchnet.core.dbtypes import utcnow
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.validation import YEAR_MAX, YEAR_MIN, clean_block, in_year_window, year_message
from watchnet.drills.models import Checkpoint, Drill, Participant, ParticipantRole
from watchnet.feedback.labels import VIEWPOINT_LABELS
from watchnet.feedback.services import chosen_quotes
from watchnet.kpt.models import (
    ACTION_OWNER_MAX,
    ACTION_TITLE_MAX,
    KPT_TEXT_MAX,
    NEWSLETTER_SECTION_MAX,
    ActionItem,
    ActionStatus,
    KptBoard,
    KptItem,
    KptKind,
    NewsletterDraft,
)
from watchnet.reflection.facts import DrillFacts, drill_facts
from watchnet.tracking.models import EncounterStepKind

# The four headings of the city's newsletter (【目的】【経緯】【様子】【今後】 in Japanese), in the
# language the draft is written in, like its text.
NEWSLETTER_HEADINGS: dict[str, LazyString] = {
    "purpose": _l("[Purpose]"),
    "background": _l("[Background]"),
    "happenings": _l("[What happened]"),
    "future": _l("[From now on]"),
}

# ---------------------------------------------------------------------------------------------
# The board


def _bump_version(drill_id: int) -> int:
    """Count one more change on the drill's board; open boards see it on their next poll."""
    board = db.session.get(KptBoard, drill_id)
    if board is None:
        board = KptBoard(drill_id=drill_id, version=0)
        db.session.add(board)
    board.version = (board.version or 0) + 1
    db.session.flush()
    return board.version


def board_version(drill: Drill) -> int:
    """The board's change counter (0 before the first change)."""
    version = db.session.scalar(sa.select(KptBoard.version).where(KptBoard.drill_id == drill.id))
    return int(version or 0)


def list_kpt_items(drill: Drill) -> list[KptItem]:
    """The drill's board items, by column then position."""
    return list(
        db.session.scalars(
            sa.select(KptItem)
            .where(KptItem.drill_id == drill.id)
            .order_by(KptItem.position, KptItem.id)
        )
    )


def _clean_text(text: Any, limit: int, field: str, required: bool = True) -> str:
    value = clean_block(str(text or ""))  # no NUL (PostgreSQL refuses it), no bidi controls
    if required and not value:
        raise UserInputError(_("Please write something."), field)
    if len(value) > limit:
        raise UserInputError(_("At most %(max)d characters.", max=limit), field)
    return value


def _parse_kind(kind: Any) -> KptKind:
    try:
        return KptKind(str(kind))
    except ValueError:
        raise UserInputError(_("Choose Keep, Problem or Try."), "kind") from None


def _item_in_drill(drill: Drill, item_id: int) -> KptItem:
    item = db.session.get(KptItem, item_id)
    if item is None or item.drill_id != drill.id:
        raise LookupError(item_id)
    return item


def add_kpt_item(drill: Drill, kind: Any, text: Any) -> KptItem:
    """Add a note at the end of its column."""
    item_kind = _parse_kind(kind)
    clean = _clean_text(text, KPT_TEXT_MAX, "text")
    last = db.session.scalar(
        sa.select(sa.func.max(KptItem.position)).where(
            KptItem.drill_id == drill.id, KptItem.kind == item_kind
        )
    )
    item = KptItem(drill_id=drill.id, kind=item_kind, text=clean, position=(last or 0) + 1)
    db.session.add(item)
    _bump_version(drill.id)
    return item


def edit_kpt_item(drill: Drill, item_id: int, text: Any, kind: Any = None) -> KptItem:
    """Change a note's text (and optionally move it to another column)."""
    item = _item_in_drill(drill, item_id)
    item.text = _clean_text(text, KPT_TEXT_MAX, "text")
    if kind is not None:
        item.kind = _parse_kind(kind)
    _bump_version(drill.id)
    return item


def delete_kpt_item(drill: Drill, item_id: int) -> None:
    """Remove a note; an action item made from it stays (it loses the link)."""
    item = _item_in_drill(drill, item_id)
    db.session.execute(
        sa.update(ActionItem).where(ActionItem.kpt_item_id == item.id).values(kpt_item_id=None)
    )
    db.session.delete(item)
    _bump_version(drill.id)


def _parse_due_date(value: Any) -> date | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        raise UserInputError(_("Enter a date like 2026-05-31."), "due_date") from None
    if not in_year_window(parsed):
        raise UserInputError(year_message(YEAR_MIN, YEAR_MAX), "due_date")
    return parsed


def create_action_item(
    drill: Drill, kpt_item_id: int, owner: Any, due_date: Any, title: Any = None
) -> ActionItem:
    """Turn a Try into an action item of the drill's district, with an owner and a due date."""
    item = _item_in_drill(drill, kpt_item_id)
    if item.kind != KptKind.try_:
        raise UserInputError(_("Only a Try can become an action item."), "kind")
    clean_title = _clean_text(title or item.text, ACTION_TITLE_MAX, "title")
    action = ActionItem(
        district_id=drill.district_id,
        drill_id=drill.id,
        kpt_item_id=item.id,
        title=clean_title,
        owner=_clean_text(owner, ACTION_OWNER_MAX, "owner"),
        due_date=_parse_due_date(due_date),
        status=ActionStatus.open,
    )
    db.session.add(action)
    _bump_version(drill.id)
    return action


def drill_action_items(drill: Drill) -> list[ActionItem]:
    """Action items that came out of this drill's reflection."""
    return list(
        db.session.scalars(
            sa.select(ActionItem).where(ActionItem.drill_id == drill.id).order_by(ActionItem.id)
        )
    )


class KptItemData(TypedDict):
    """One card on the board, as the board's script reads it."""

    id: int
    kind: str
    text: str
    position: int


class ActionItemData(TypedDict):
    id: int
    kpt_item_id: int | None
    title: str
    owner: str
    due_date: str | None  # ISO date
    status: str


class BoardState(TypedDict):
    """The board's JSON: only version and changed when nothing changed since the client's."""

    version: int
    changed: bool
    items: NotRequired[list[KptItemData]]
    actions: NotRequired[list[ActionItemData]]


def kpt_item_to_dict(item: KptItem) -> KptItemData:
    return {"id": item.id, "kind": item.kind.value, "text": item.text, "position": item.position}


def action_item_to_dict(action: ActionItem) -> ActionItemData:
    return {
        "id": action.id,
        "kpt_item_id": action.kpt_item_id,
        "title": action.title,
        "owner": action.owner,
        "due_date": action.due_date.isoformat() if action.due_date else None,
        "status": action.status.value,
    }


def board_state(drill: Drill, since: int | None = None) -> BoardState:
    """What an open board needs; only the version when nothing changed since `since`."""
    version = board_version(drill)
    if since is not None and since == version:
        return {"version": version, "changed": False}
    return {
        "version": version,
        "changed": True,
        "items": [kpt_item_to_dict(i) for i in list_kpt_items(drill)],
        "actions": [action_item_to_dict(a) for a in drill_action_items(drill)],
    }


# ---------------------------------------------------------------------------------------------
# Action items of a district


def open_action_items(district_id: int) -> list[ActionItem]:
    """Open (or in-progress) action items of the district, earliest due first."""
    return list(
        db.session.scalars(
            sa.select(ActionItem)
            .where(ActionItem.district_id == district_id, ActionItem.status != ActionStatus.done)
            .order_by(ActionItem.due_date.is_(None), ActionItem.due_date, ActionItem.id)
        )
    )


def list_action_items(district_id: int) -> list[ActionItem]:
    """Every action item of the district: open ones first, then closed, newest first."""
    return list(
        db.session.scalars(
            sa.select(ActionItem)
            .where(ActionItem.district_id == district_id)
            .order_by(
                ActionItem.status == ActionStatus.done,
                ActionItem.due_date.is_(None),
                ActionItem.due_date,
                ActionItem.id.desc(),
            )
        )
    )


def close_action_item(
    district_id: int, action_id: int, closed_in: Drill | None = None
) -> ActionItem:
    """Mark an action item done, noting the drill whose page it was closed on."""
    action = db.session.get(ActionItem, action_id)
    if action is None or action.district_id != district_id:
        raise LookupError(action_id)
    if closed_in is not None and closed_in.district_id != district_id:
        raise LookupError(closed_in.id)
    if action.status != ActionStatus.done:
        action.status = ActionStatus.done
        action.closed_at = utcnow()
        action.closed_in_drill_id = closed_in.id if closed_in else None
        if action.drill_id is not None:
            _bump_version(action.drill_id)
    db.session.flush()
    return action


# ---------------------------------------------------------------------------------------------
# What happened: counts, a timing, quotes (for the report and the newsletter)


@dataclass
class DrillCounts:
    walkers: int
    observers: int
    role_players: int
    teams: int
    checkpoints: int
    encounters: int
    handed_over: int
    help_calls: int


def count_drill(drill: Drill, facts: DrillFacts) -> DrillCounts:
    """Who took part in which role, and how many approaches ended with a hand-over."""
    roles = Counter(
        db.session.scalars(sa.select(Participant.role).where(Participant.drill_id == drill.id))
    )
    # Role-players are often not registered participants: organizers write their names on
    # the checkpoints (「高齢者役: 田中さん」). Count whichever tells more people.
    named_at_checkpoints = {
        name.strip()
        for name in db.session.scalars(
            sa.select(Checkpoint.role_player).where(Checkpoint.drill_id == drill.id)
        )
        if name and name.strip()
    }
    return DrillCounts(
        walkers=roles.get(ParticipantRole.walker, 0),
        observers=roles.get(ParticipantRole.observer, 0),
        role_players=max(roles.get(ParticipantRole.role_player, 0), len(named_at_checkpoints)),
        teams=facts.counts["teams"],
        checkpoints=facts.counts["checkpoints"],
        encounters=len(facts.encounters),
        handed_over=sum(
            1 for e in facts.encounters if EncounterStepKind.handed_over.value in e.first_done
        ),
        help_calls=facts.counts["help_calls"],
    )


def chosen_quotes_of(drill: Drill) -> dict[str, list[str]]:
    """Quotes the organizer chose for the newsletter, per viewpoint that has any."""
    return {str(k): list(v) for k, v in chosen_quotes(drill).items() if v}


def report_context(drill: Drill) -> dict[str, Any]:
    """Everything the printable report shows."""
    items = list_kpt_items(drill)
    facts = drill_facts(drill, with_previous=False)
    return {
        "counts": count_drill(drill, facts),
        "facts": facts,
        "quotes": chosen_quotes_of(drill),
        "columns": {kind.value: [i for i in items if i.kind == kind] for kind in KptKind},
        "actions": drill_action_items(drill),
        "open_actions": open_action_items(drill.district_id),
    }


# ---------------------------------------------------------------------------------------------
# Newsletter


def draft_newsletter(drill: Drill) -> dict[str, str]:
    """A first draft of the four sections from the drill's purpose, background, what happened
    (counts, timing, one chosen quote per viewpoint) and the Try items."""
    facts = drill_facts(drill, with_previous=False)
    counts = count_drill(drill, facts)
    lines = [
        _(
            "On %(date)s, %(walkers)d supporters walked the route in %(teams)d teams and "
            "met %(role_players)d role-players at %(checkpoints)d checkpoints.",
            date=timefmt.format_formal_date(drill.starts_at),
            walkers=counts.walkers,
            teams=counts.teams,
            role_players=counts.role_players,
            checkpoints=counts.checkpoints,
        )
    ]
    if counts.observers:
        lines.append(_("%(n)d observers watched the approaches.", n=counts.observers))
    if counts.encounters:
        lines.append(
            _(
                "There were %(encounters)d approaches; %(handed)d ended with a hand-over "
                "to the right contact.",
                encounters=counts.encounters,
                handed=counts.handed_over,
            )
        )
    summary = facts.summary
    if summary.to_approach_s is not None:
        lines.append(
            _(
                "From noticing the person to approaching from the front took %(time)s on average.",
                time=timefmt.format_duration(summary.to_approach_s),
            )
        )
    if summary.to_handover_s is not None:
        lines.append(
            _(
                "From noticing the person to handing over took %(time)s on average.",
                time=timefmt.format_duration(summary.to_handover_s),
            )
        )
    if counts.help_calls:
        lines.append(_("Supporters asked for help %(n)d times.", n=counts.help_calls))
    for viewpoint, quotes in chosen_quotes_of(drill).items():
        label = VIEWPOINT_LABELS.get(viewpoint, viewpoint)
        lines.append(_("%(viewpoint)s: “%(quote)s”", viewpoint=label, quote=quotes[0]))
    tries = [i for i in list_kpt_items(drill) if i.kind == KptKind.try_]
    actions = {a.kpt_item_id: a for a in drill_action_items(drill)}
    future = []
    for item in tries:
        line = _("• %(item)s", item=item.text)
        action = actions.get(item.id)
        if action is not None and (action.owner or action.due_date):
            line += " " + _(
                "(owner: %(owner)s, by %(due)s)",
                owner=action.owner or "—",
                due=timefmt.format_formal_date(action.due_date) or "—",
            )
        future.append(line)
    if not future:
        future.append(_("We will reflect on this drill's lessons in the next one."))
    return {
        "purpose": drill.purpose,
        "background": drill.background,
        "happenings": "\n".join(lines),
        "future": "\n".join(future),
    }


def get_newsletter(drill: Drill) -> tuple[dict[str, str], bool]:
    """The saved newsletter sections, or a fresh draft; the flag says whether it was saved."""
    saved = db.session.scalar(
        sa.select(NewsletterDraft).where(NewsletterDraft.drill_id == drill.id)
    )
    if saved is None:
        return draft_newsletter(drill), False
    return {key: getattr(saved, key) for key in NEWSLETTER_HEADINGS}, True


def save_newsletter(drill: Drill, sections: dict[str, Any]) -> NewsletterDraft:
    """Store the edited sections of the drill's newsletter draft."""
    draft = db.session.scalar(
        sa.select(NewsletterDraft).where(NewsletterDraft.drill_id == drill.id)
    )
    if draft is None:
        draft = NewsletterDraft(drill_id=drill.id)
        db.session.add(draft)
    for key in NEWSLETTER_HEADINGS:
        value = clean_block(str(sections.get(key) or ""))
        if len(value) > NEWSLETTER_SECTION_MAX:
            raise UserInputError(_("At most %(max)d characters.", max=NEWSLETTER_SECTION_MAX), key)
        setattr(draft, key, value)
    draft.updated_at = utcnow()
    db.session.flush()
    return draft


def newsletter_text(sections: dict[str, str]) -> str:
    """The plain text to paste into the newsletter: each heading, then its section."""
    return (
        "\n\n".join(
            f"{heading}\n{sections.get(key, '').strip()}"
            for key, heading in NEWSLETTER_HEADINGS.items()
        ).strip()
        + "\n"
    )
