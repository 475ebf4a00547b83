"""What phones do during a live drill: report positions, log encounter steps, ask where they
are, call for help and answer a call. Functions flush and leave the commit to the caller."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString, cast

import psycopg
import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite

from watchnet.core import geo
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.core.i18n import recipient_locale
from watchnet.core.insert_once import insert_once, insert_or_get
from watchnet.core.labels import label
from watchnet.core.urls import public_url
from watchnet.districts.places import describe_place, district_places, format_coords
from watchnet.drills.models import Checkpoint, Drill, DrillStatus, Participant
from watchnet.people.models import StaffRole, StaffUser, Supporter, staff_district
from watchnet.people.notify import notify_staff, notify_supporter
from watchnet.tracking.events import DRILL, STAFF, emit, supporter_audience
from watchnet.tracking.models import (
    EncounterNote,
    EncounterStep,
    EncounterStepKind,
    HelpCall,
    HelpCallResolution,
    HelpResponse,
    LatestPosition,
    LiveEvent,
    PositionReport,
)
from watchnet.tracking.schemas import HelpInput, InvalidPayload, NoteInput, StepInput

# A step logged without a checkpoint is put at the nearest one when it is this close.
CHECKPOINT_SNAP_M = 100.0
# Help calls look for helpers in growing boxes around the caller before taking anyone.
HELP_SEARCH_RADII_M = (1_000.0, 5_000.0, 20_000.0)


class DrillNotLive(Exception):
    """The drill is not live: positions, steps and help calls are refused (409)."""


class ConsentRequired(Exception):
    """The supporter has not agreed to share their position in this drill (409)."""


class NotParticipant(Exception):
    """The supporter is not a participant of the drill (404, no hint that it exists)."""


class SignedOut(Exception):
    """The phone's personal link was revoked or the supporter deactivated (403)."""


class HelpCallEnded(Exception):
    """The help call has already ended: nobody needs to be on their way any more (409)."""


def _language() -> str:
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "ja"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _insert(table: sa.Table) -> Any:
    """INSERT with ON CONFLICT support for the bound database."""
    if db.engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# ---------------------------------------------------------------------------------------------
# Participants and consent


def get_participant(drill_id: int, supporter_id: int) -> Participant | None:
    """The supporter's participation in a drill, or None."""
    return db.session.scalar(
        sa.select(Participant).where(
            Participant.drill_id == drill_id, Participant.supporter_id == supporter_id
        )
    )


def set_position_consent(participant: Participant, share: bool) -> bool:
    """Record whether the supporter agrees to share their position while the drill is live."""
    if share and participant.position_consent_at is None:
        participant.position_consent_at = utcnow()
    elif not share:
        participant.position_consent_at = None
    db.session.flush()
    return participant.position_consent_at is not None


# ---------------------------------------------------------------------------------------------
# Positions


@dataclass(frozen=True)
class _RawStatement:
    """A Core statement compiled once per dialect and run on a DBAPI cursor.

    The position report is the hot path of a live drill: running its statements through a
    Connection or the Session cost three times as much CPU as the statements themselves
    (bench/positions.py). Compiling once keeps the SQL and the column types' conversions (UTC
    datetimes, enums) those of the models; only the per-execution bookkeeping is skipped.
    """

    sql: str
    names: tuple[str, ...]  # the parameters in the DBAPI's order (positional paramstyles)
    positional: bool
    processors: dict[str, Callable[[Any], Any]]
    constants: dict[str, Any]  # the statement's own values (e.g. 'live'), converted

    @classmethod
    def compile(cls, statement: Any, dialect: sa.Dialect, given: set[str]) -> _RawStatement:
        compiled = statement.compile(dialect=dialect)
        processors = {}
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                processors[name] = process
        names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.binds)
        raw = cls(str(compiled), names, bool(compiled.positional), processors, {})
        raw.constants.update(
            raw.convert(
                {
                    name: bind.effective_value
                    for name, bind in compiled.binds.items()
                    if name not in given
                }
            )
        )
        return raw

    def convert(self, values: dict[str, Any]) -> dict[str, Any]:
        """Values as the database takes them (each column type's conversion)."""
        processors = self.processors
        return {
            name: processors[name](value) if name in processors else value
            for name, value in values.items()
        }

    def params(self, converted: dict[str, Any]) -> Any:
        """The DBAPI parameters of one execution from converted values (constants added)."""
        if self.positional:
            return tuple(converted[name] for name in self.names)
        return converted


_HISTORY_KEYS = (
    "drill_id",
    "supporter_id",
    "client_id",
    "lat",
    "lon",
    "accuracy_m",
    "recorded_at",
    "received_at",
)
_LATEST_KEYS = (
    "drill_id",
    "supporter_id",
    "lat",
    "lon",
    "accuracy_m",
    "recorded_at",
    "received_at",
)
_position_statements: dict[str, tuple[_RawStatement, _RawStatement]] = {}


def _position_sql() -> tuple[_RawStatement, _RawStatement]:
    """The two statements of record_positions, built once per dialect."""
    dialect = db.engine.dialect
    cached = _position_statements.get(dialect.name)
    if cached is not None:
        return cached
    history_table = cast(sa.Table, PositionReport.__table__)
    latest_table = cast(sa.Table, LatestPosition.__table__)

    def bind(table: sa.Table, key: str) -> Any:
        column = table.c[key]
        value = sa.bindparam(key, type_=column.type)
        # PostgreSQL types a SELECT list's untyped parameter (a NULL accuracy) as text. Only
        # floats: SQLite would turn a datetime's text into a number under a cast.
        return sa.cast(value, column.type) if isinstance(column.type, sa.Float) else value

    # The row goes in only if the drill is live, the supporter takes part and agreed to share,
    # and the phone's sign-in link is still valid: the checks cost no statement of their own.
    history = (
        _insert(history_table)
        .from_select(
            list(_HISTORY_KEYS),
            sa.select(*(bind(history_table, key) for key in _HISTORY_KEYS))
            .select_from(Participant)
            .join(Drill, Drill.id == Participant.drill_id)
            .join(Supporter, Supporter.id == Participant.supporter_id)
            .where(
                Participant.drill_id == sa.bindparam("drill_id"),
                Participant.supporter_id == sa.bindparam("supporter_id"),
                Drill.status == DrillStatus.live,
                Participant.position_consent_at.is_not(None),
                Supporter.token_version == sa.bindparam("token_version", type_=sa.Integer),
                Supporter.is_active.is_(True),
            ),
        )
        .on_conflict_do_nothing(index_elements=["supporter_id", "client_id"])
    )
    upsert = _insert(latest_table).values(
        {key: sa.bindparam(key, type_=latest_table.c[key].type) for key in _LATEST_KEYS}
    )
    upsert = upsert.on_conflict_do_update(
        index_elements=["drill_id", "supporter_id"],
        set_={
            name: upsert.excluded[name]
            for name in ("lat", "lon", "accuracy_m", "recorded_at", "received_at")
        },
        where=latest_table.c.recorded_at < upsert.excluded.recorded_at,
    )
    statements = (
        _RawStatement.compile(history, dialect, {*_HISTORY_KEYS, "token_version"}),
        _RawStatement.compile(upsert, dialect, set(_LATEST_KEYS)),
    )
    _position_statements[dialect.name] = statements
    return statements


def check_position_sender(drill_id: int, supporter_id: int, token_version: int) -> Any:
    """The drill's status and the consent of a signed-in participant, or NotParticipant /
    SignedOut."""
    state = db.session.execute(
        sa.select(
            Drill.status,
            Participant.position_consent_at,
            Supporter.token_version,
            Supporter.is_active,
        )
        .join(Participant, Participant.drill_id == Drill.id)
        .join(Supporter, Supporter.id == Participant.supporter_id)
        .where(Drill.id == drill_id, Participant.supporter_id == supporter_id)
    ).first()
    if state is None:
        raise NotParticipant()
    if state.token_version != token_version or not state.is_active:
        raise SignedOut()
    return state


def _refuse_positions(drill_id: int, supporter_id: int, token_version: int) -> None:
    """Raise why the phone may not report positions now, if it may not."""
    state = check_position_sender(drill_id, supporter_id, token_version)
    if state.status != DrillStatus.live:
        raise DrillNotLive()
    if state.position_consent_at is None:
        raise ConsentRequired()


def record_positions(
    drill_id: int, supporter_id: int, token_version: int, rows: Sequence[dict[str, Any]]
) -> tuple[int, int]:
    """Store a batch of checked positions and commit; returns (accepted, duplicates).

    Unlike the other functions here this one commits, in its own short transaction on a pooled
    connection: it is the endpoint bench/positions.py measures. Two statements whatever the
    batch size: the history insert, which also checks that the drill is live, the supporter
    takes part and agreed, and `token_version` (the phone's sign-in link) is still valid; then
    the upsert of the supporter's LatestPosition, which moves only forward in recorded_at.
    Idempotent per (supporter, client_id): a retried report counts as a duplicate. When
    nothing went in, a second look tells a refusal (raised) from duplicates.
    """
    accepted = _store_positions(drill_id, supporter_id, token_version, rows)
    if not accepted:
        _refuse_positions(drill_id, supporter_id, token_version)
    return accepted, len(rows) - accepted


def _store_positions(
    drill_id: int, supporter_id: int, token_version: int, rows: Sequence[dict[str, Any]]
) -> int:
    """Run record_positions' transaction; returns how many rows went in."""
    if db.engine.dialect.name == "postgresql":
        return _store_positions_postgresql(drill_id, supporter_id, token_version, rows)
    history_sql, upsert_sql = _position_sql()
    sender = {"drill_id": drill_id, "supporter_id": supporter_id, "received_at": utcnow()}
    # What every row shares is converted once.
    shared = {
        **history_sql.constants,
        **history_sql.convert({**sender, "token_version": token_version}),
    }
    params = [history_sql.params({**shared, **history_sql.convert(row)}) for row in rows]
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        if len(params) == 1:
            cursor.execute(history_sql.sql, params[0])
        else:
            cursor.executemany(history_sql.sql, params)
        accepted = max(cursor.rowcount, 0)
        if accepted:
            newest = {**max(rows, key=lambda r: r["recorded_at"]), **sender}
            del newest["client_id"]
            cursor.execute(
                upsert_sql.sql,
                upsert_sql.params({**upsert_sql.constants, **upsert_sql.convert(newest)}),
            )
            connection.commit()
        else:
            connection.rollback()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.close()
    return accepted


# PostgreSQL: the whole report is one statement in its own transaction, so one round trip to the
# server (the two-statement transaction took four: BEGIN, insert, upsert, COMMIT). The checks are
# those of _position_sql's insert; `unnest` takes the batch as one array per column, so a single
# prepared statement serves every batch size; the upsert takes the newest of the rows that went
# in (ties: the first in the batch), and moves only forward in recorded_at.
# set_config(..., true) is SET LOCAL synchronous_commit = off for this transaction only: the
# commit does not wait for the WAL flush (see the README's Benchmarks section for the trade-off;
# it is what SQLite's synchronous=NORMAL in WAL mode already does). Evaluated once, in `sender`,
# which yields a row only when the phone may report.
_POSTGRESQL_POSITIONS: LiteralString = """
WITH sender AS (
    SELECT set_config('synchronous_commit', 'off', true) AS async_commit
    FROM participant
    JOIN drill ON drill.id = participant.drill_id
    JOIN supporter ON supporter.id = participant.supporter_id
    WHERE participant.drill_id = %(drill_id)s AND participant.supporter_id = %(supporter_id)s
        AND drill.status = %(live)s
        AND participant.position_consent_at IS NOT NULL
        AND supporter.token_version = %(token_version)s AND supporter.is_active IS true
), stored AS (
    INSERT INTO position_report
        (drill_id, supporter_id, client_id, lat, lon, accuracy_m, recorded_at, received_at)
    SELECT %(drill_id)s, %(supporter_id)s, p.client_id, p.lat, p.lon, p.accuracy_m,
        p.recorded_at, %(received_at)s
    FROM sender, unnest(%(client_id)s::varchar[], %(lat)s::float8[], %(lon)s::float8[],
        %(accuracy_m)s::float8[], %(recorded_at)s::timestamptz[])
        AS p(client_id, lat, lon, accuracy_m, recorded_at)
    ON CONFLICT (supporter_id, client_id) DO NOTHING
    RETURNING id, lat, lon, accuracy_m, recorded_at
), latest AS (
    INSERT INTO latest_position
        (drill_id, supporter_id, lat, lon, accuracy_m, recorded_at, received_at)
    SELECT %(drill_id)s, %(supporter_id)s, lat, lon, accuracy_m, recorded_at, %(received_at)s
    FROM stored ORDER BY recorded_at DESC, id LIMIT 1
    ON CONFLICT (drill_id, supporter_id) DO UPDATE SET lat = excluded.lat, lon = excluded.lon,
        accuracy_m = excluded.accuracy_m, recorded_at = excluded.recorded_at,
        received_at = excluded.received_at
    WHERE latest_position.recorded_at < excluded.recorded_at
)
SELECT count(*) FROM stored
"""


def _store_positions_postgresql(
    drill_id: int, supporter_id: int, token_version: int, rows: Sequence[dict[str, Any]]
) -> int:
    """_store_positions on PostgreSQL: one autocommitted statement; returns the rows stored."""
    params = {
        "drill_id": drill_id,
        "supporter_id": supporter_id,
        "token_version": token_version,
        "received_at": utcnow(),
        "live": DrillStatus.live.value,
        **{key: [row[key] for row in rows] for key in _STORED_KEYS},
    }
    for attempt in (1, 2):
        connection = db.engine.raw_connection()
        driver = cast("psycopg.Connection[Any]", connection.driver_connection)
        try:
            driver.autocommit = True  # the statement is its own transaction: no BEGIN, COMMIT
            stored = driver.execute(_POSTGRESQL_POSITIONS, params).fetchone()
            return int(stored[0]) if stored else 0
        except psycopg.OperationalError as exc:
            # A connection lost since its last use that web.py's checkout hook could not see
            # (there is no pre-ping). The statement is idempotent per client id, so it is safe
            # to send again; the pool's other connections are as old, so all are renewed.
            if attempt == 2 or not db.engine.dialect.is_disconnect(
                cast(Any, exc), connection, None
            ):
                raise
            connection.invalidate()
            db.engine.dispose()
        finally:
            if not driver.closed:
                driver.autocommit = False  # back in the pool, the Session's transactions
            connection.close()
    raise AssertionError("unreachable")


_STORED_KEYS = ("client_id", "lat", "lon", "accuracy_m", "recorded_at")


# ---------------------------------------------------------------------------------------------
# Where am I


def _places(drill: Drill) -> list[geo.NamedPlace]:
    places = district_places(drill.district)
    places += [geo.NamedPlace(cp.name, cp.lat, cp.lon) for cp in drill.checkpoints]
    return places


def place_sentences(drill: Drill, lat: float, lon: float, own: str) -> dict[str, str]:
    """The place of a help call in every language of the app, for viewers whose language is
    not the caller's: the caller's own sentence (it may hold an address the geocoder gave the
    phone) in the caller's language; in the others the imported address or the nearest place
    (no geocoder round trip while the call is being raised)."""
    mine = _language()
    sentences = {mine: own}
    places = _places(drill)
    for language in current_app.config["LANGUAGES"]:
        if language in sentences:
            continue
        with force_locale(language):
            sentences[language] = describe_place(lat, lon, places, language, online=False).sentence
    return sentences


def describe_location(
    drill: Drill, lat: float, lon: float, language: str | None = None
) -> dict[str, Any]:
    """The "where am I" answer: a sentence to read aloud (the imported address, else the
    geocoder's, else the nearest landmark or checkpoint; see districts/places.py) and the
    coordinates apart. Always returns a sentence; never raises for the geocoder."""
    language = language or _language()
    return describe_place(lat, lon, _places(drill), language).as_dict()


def nearest_checkpoint(drill: Drill, lat: float, lon: float) -> dict[str, Any] | None:
    """The drill's checkpoint closest to a position, with its distance in metres."""
    best: tuple[Checkpoint, float] | None = None
    for cp in drill.checkpoints:
        d = geo.haversine_m((lat, lon), (cp.lat, cp.lon))
        if best is None or d < best[1]:
            best = (cp, d)
    if best is None:
        return None
    cp, distance = best
    return {"id": cp.id, "name": cp.name, "seq": cp.seq, "distance_m": int(round(distance))}


# ---------------------------------------------------------------------------------------------
# Encounter steps


def step_to_dict(step: EncounterStep, checkpoint_names: dict[int, str]) -> dict[str, Any]:
    """The wire form of one step."""
    return {
        "id": step.id,
        "client_id": step.client_id,
        "step": str(step.step),
        "step_label": label(EncounterStepKind, step.step),
        "checkpoint_id": step.checkpoint_id,
        "checkpoint_name": checkpoint_names.get(step.checkpoint_id or 0),
        "contact_whom": str(step.contact_whom) if step.contact_whom else None,
        "note": step.note,
        "lat": step.lat,
        "lon": step.lon,
        "accuracy_m": step.accuracy_m,
        "done_at": _iso(step.done_at),
        "received_at": _iso(step.received_at),
        "corrects_id": step.corrects_id,
    }


def _checkpoint_names(drill: Drill) -> dict[int, str]:
    return {cp.id: cp.name for cp in drill.checkpoints}


def _checkpoint_of(
    drill: Drill,
    names: dict[int, str],
    checkpoint_id: int | None,
    lat: float | None,
    lon: float | None,
) -> int | None:
    """The checkpoint the phone chose, else the nearest one when the position is close."""
    if checkpoint_id is not None and checkpoint_id not in names:
        raise InvalidPayload({"checkpoint_id": [_("Unknown checkpoint.")]})
    if checkpoint_id is None and lat is not None and lon is not None:
        near = nearest_checkpoint(drill, lat, lon)
        if near is not None and near["distance_m"] <= CHECKPOINT_SNAP_M:
            checkpoint_id = near["id"]
    return checkpoint_id


def _accepts_step(drill: Drill, data: StepInput) -> bool:
    if drill.status == DrillStatus.live:
        return True
    if drill.status != DrillStatus.ended:
        return False
    # A correction may come afterwards; a step done while live may arrive late from a phone
    # that was offline when the drill ended.
    if data.corrects_client_id is not None:
        return True
    started, finished = drill.started_at, drill.finished_at
    return started is not None and finished is not None and started <= data.done_at <= finished


def record_step(participant: Participant, data: StepInput) -> tuple[EncounterStep, bool]:
    """Store one encounter step with the phone's time; returns (step, created).

    The same client_id twice gives the stored step (created False). A correction is a new row
    pointing at the original, which is kept."""
    drill = participant.drill
    existing = db.session.scalar(
        sa.select(EncounterStep).where(
            EncounterStep.supporter_id == participant.supporter_id,
            EncounterStep.client_id == data.client_id,
        )
    )
    if existing is not None:
        return existing, False
    if not _accepts_step(drill, data):
        raise DrillNotLive()
    names = _checkpoint_names(drill)
    checkpoint_id = _checkpoint_of(drill, names, data.checkpoint_id, data.lat, data.lon)
    corrects_id = None
    if data.corrects_client_id is not None:
        original = db.session.scalar(
            sa.select(EncounterStep).where(
                EncounterStep.supporter_id == participant.supporter_id,
                EncounterStep.drill_id == drill.id,
                EncounterStep.client_id == data.corrects_client_id,
            )
        )
        if original is None:
            raise InvalidPayload({"corrects_client_id": [_("Unknown step.")]})
        # Corrections of a correction hang off the first entry, so one original has a history.
        corrects_id = original.corrects_id or original.id
    step = EncounterStep(
        drill_id=drill.id,
        supporter_id=participant.supporter_id,
        team_id=participant.team_id,
        checkpoint_id=checkpoint_id,
        client_id=data.client_id,
        step=data.step,
        contact_whom=data.contact_whom,
        note=data.note,
        lat=data.lat,
        lon=data.lon,
        accuracy_m=data.accuracy_m,
        done_at=data.done_at,
        corrects_id=corrects_id,
    )
    # The same step may arrive twice at once (two workers); the first one wins.
    step, created = insert_or_get(
        step,
        lambda: db.session.scalar(
            sa.select(EncounterStep).where(
                EncounterStep.supporter_id == participant.supporter_id,
                EncounterStep.client_id == data.client_id,
            )
        ),
    )
    if not created:
        return step, False
    team = participant.team
    payload = step_to_dict(step, names)
    payload.update(
        supporter_id=participant.supporter_id,
        name=participant.supporter.name,
        team_id=team.id if team else None,
        team_name=team.name if team else None,
        color=team.color if team else None,
    )
    emit(drill.id, "step", payload, audience=STAFF)
    return step, True


def list_steps(participant: Participant) -> list[dict[str, Any]]:
    """The supporter's steps in the order done, corrections applied, originals kept."""
    names = _checkpoint_names(participant.drill)
    rows = list(
        db.session.scalars(
            sa.select(EncounterStep)
            .where(
                EncounterStep.drill_id == participant.drill_id,
                EncounterStep.supporter_id == participant.supporter_id,
            )
            .order_by(EncounterStep.id)
        )
    )
    latest_correction: dict[int, EncounterStep] = {}
    originals: list[EncounterStep] = []
    for row in rows:
        if row.corrects_id is None:
            originals.append(row)
        else:
            latest_correction[row.corrects_id] = row  # ordered by id: the last one wins
    result = []
    for original in originals:
        correction = latest_correction.get(original.id)
        if correction is None:
            item = step_to_dict(original, names)
            item["original"] = None
        else:
            item = step_to_dict(correction, names)
            item["original"] = step_to_dict(original, names)
        result.append(item)
    result.sort(key=lambda item: (item["done_at"], item["id"]))
    return result


# ---------------------------------------------------------------------------------------------
# Notes saved with 「メモを保存」


def note_to_dict(note: EncounterNote, checkpoint_names: dict[int, str]) -> dict[str, Any]:
    """The wire form of one saved note."""
    return {
        "id": note.id,
        "client_id": note.client_id,
        "text": note.text,
        "checkpoint_id": note.checkpoint_id,
        "checkpoint_name": checkpoint_names.get(note.checkpoint_id or 0),
        "written_at": _iso(note.written_at),
        "received_at": _iso(note.received_at),
    }


def _note_by_client_id(supporter_id: int, client_id: str) -> EncounterNote | None:
    return db.session.scalar(
        sa.select(EncounterNote).where(
            EncounterNote.supporter_id == supporter_id, EncounterNote.client_id == client_id
        )
    )


def record_note(participant: Participant, data: NoteInput) -> tuple[EncounterNote, bool]:
    """Store a note from the phone; returns (note, created). The same client_id twice gives
    the stored note. Taken while the drill is live and after it ended (a note is often written
    after the last step, or on the way home); not before it starts."""
    existing = _note_by_client_id(participant.supporter_id, data.client_id)
    if existing is not None:
        return existing, False
    drill = participant.drill
    if drill.status not in (DrillStatus.live, DrillStatus.ended):
        raise DrillNotLive()
    names = _checkpoint_names(drill)
    note = EncounterNote(
        drill_id=drill.id,
        supporter_id=participant.supporter_id,
        team_id=participant.team_id,
        checkpoint_id=_checkpoint_of(drill, names, data.checkpoint_id, data.lat, data.lon),
        client_id=data.client_id,
        text=data.text,
        written_at=data.written_at,
    )
    # Two workers may take the same retry at once; the first one wins.
    note, created = insert_or_get(
        note, lambda: _note_by_client_id(participant.supporter_id, data.client_id)
    )
    if not created:
        return note, False
    team = participant.team
    payload = note_to_dict(note, names)
    payload.update(
        supporter_id=participant.supporter_id,
        name=participant.supporter.name,
        team_id=team.id if team else None,
        team_name=team.name if team else None,
        color=team.color if team else None,
    )
    emit(drill.id, "note", payload, audience=STAFF)
    return note, True


def list_notes(participant: Participant) -> list[dict[str, Any]]:
    """The notes the supporter saved in this drill, in the order written."""
    names = _checkpoint_names(participant.drill)
    return [
        note_to_dict(note, names)
        for note in db.session.scalars(
            sa.select(EncounterNote)
            .where(
                EncounterNote.drill_id == participant.drill_id,
                EncounterNote.supporter_id == participant.supporter_id,
            )
            .order_by(EncounterNote.written_at, EncounterNote.id)
        )
    ]


# ---------------------------------------------------------------------------------------------
# Help calls


def drill_staff(drill: Drill) -> list[StaffUser]:
    """Who hears about a help call on the staff side: the district's organizers and
    coordinators, and whoever created the drill."""
    staff = list(
        db.session.scalars(
            sa.select(StaffUser)
            .join(staff_district, staff_district.c.staff_id == StaffUser.id)
            .where(
                staff_district.c.district_id == drill.district_id,
                StaffUser.is_active.is_(True),
                StaffUser.role.in_([StaffRole.organizer, StaffRole.coordinator]),
            )
            .order_by(StaffUser.id)
        )
    )
    creator = drill.created_by
    if creator is not None and creator.is_active and creator not in staff:
        staff.append(creator)
    return staff


def nearest_participants(
    drill_id: int, lat: float, lon: float, exclude_supporter_id: int, count: int
) -> list[tuple[Supporter, float]]:
    """The `count` participants nearest a position by their latest position, with distances.

    Bounding boxes of growing size prefilter on the (drill_id, lat, lon) index; haversine
    orders what they find."""
    base = (
        sa.select(Supporter, LatestPosition.lat, LatestPosition.lon)
        .join(LatestPosition, LatestPosition.supporter_id == Supporter.id)
        .join(
            Participant,
            sa.and_(
                Participant.drill_id == LatestPosition.drill_id,
                Participant.supporter_id == LatestPosition.supporter_id,
            ),
        )
        .where(
            LatestPosition.drill_id == drill_id,
            Supporter.id != exclude_supporter_id,
            Supporter.is_active.is_(True),
        )
    )
    found: list[tuple[Supporter, float]] = []
    if count <= 0:
        return found
    for radius in (*HELP_SEARCH_RADII_M, math.inf):
        query = base
        if math.isfinite(radius):
            min_lat, min_lon, max_lat, max_lon = geo.bounding_box((lat, lon), radius)
            query = query.where(
                LatestPosition.lat.between(min_lat, max_lat),
                LatestPosition.lon.between(min_lon, max_lon),
            )
        found = sorted(
            (
                (s, geo.haversine_m((lat, lon), (s_lat, s_lon)))
                for s, s_lat, s_lon in db.session.execute(query)
            ),
            key=lambda pair: pair[1],
        )
        # Everyone within `radius` is inside the box, so the first `count` are final once the
        # farthest of them is within the radius.
        if len(found) >= count and found[count - 1][1] <= radius:
            break
    return found[:count]


def _help_message(call: HelpCall, caller: Supporter, link: str) -> tuple[str, str]:
    subject = _("%(name)s is asking for help", name=caller.name)
    lines = [_("%(name)s cannot cope alone and is asking for help.", name=caller.name)]
    if call.sentence:
        lines.append(call.sentence)
    lines.append(_("Coordinates: %(coords)s", coords=format_coords(call.lat, call.lon)))
    lines.append(_("Open: %(link)s", link=link))
    return subject, "\n".join(lines)


def help_call_body(call: HelpCall) -> dict[str, Any]:
    """The answer to the phone that called: the call's id and whom it reached."""
    return {
        "id": call.id,
        "notified": [
            {"name": n["name"], "distance_m": n.get("distance_m")} for n in call.notified or []
        ],
    }


def record_help_call(participant: Participant, data: HelpInput) -> tuple[HelpCall, bool]:
    """Ask the nearest other participants and the drill's staff for help; returns
    (call, created). LiveEvents reach their phones and the live view; the outbox carries the
    message to each person's notification channels."""
    existing = db.session.scalar(
        sa.select(HelpCall).where(
            HelpCall.supporter_id == participant.supporter_id, HelpCall.client_id == data.client_id
        )
    )
    if existing is not None:
        return existing, False
    drill = participant.drill
    if drill.status != DrillStatus.live:
        raise DrillNotLive()
    caller = participant.supporter
    sentence = data.sentence or describe_location(drill, data.lat, data.lon)["sentence"]
    nearest = nearest_participants(
        drill.id, data.lat, data.lon, caller.id, int(current_app.config["HELP_CALL_NEAREST"])
    )
    staff = drill_staff(drill)
    notified: list[dict[str, Any]] = [
        {"name": s.name, "distance_m": int(round(d)), "kind": "supporter", "id": s.id}
        for s, d in nearest
    ]
    notified += [{"name": s.name, "distance_m": None, "kind": "staff", "id": s.id} for s in staff]
    call = HelpCall(
        drill_id=drill.id,
        supporter_id=caller.id,
        client_id=data.client_id,
        lat=data.lat,
        lon=data.lon,
        accuracy_m=data.accuracy_m,
        sentence=sentence[:500],
        called_at=data.called_at,
        notified=notified,
    )
    call, created = insert_or_get(
        call,
        lambda: db.session.scalar(
            sa.select(HelpCall).where(
                HelpCall.supporter_id == caller.id, HelpCall.client_id == data.client_id
            )
        ),
    )
    if not created:
        return call, False

    payload = {
        "id": call.id,
        "supporter_id": caller.id,
        "name": caller.name,
        "lat": call.lat,
        "lon": call.lon,
        "accuracy_m": call.accuracy_m,
        "sentence": call.sentence,
        "sentences": place_sentences(drill, call.lat, call.lon, call.sentence),
        "coords": format_coords(call.lat, call.lon),
        "called_at": _iso(call.called_at),
        "targets": [n["name"] for n in notified],
    }
    emit(drill.id, "help_call", payload, audience=STAFF)
    field_link = public_url("field.drill_page", f"/field/drills/{drill.id}", drill_id=drill.id)
    live_link = public_url("live.live_view", f"/drills/{drill.id}/live", drill_id=drill.id)
    key = f"help:{call.id}"
    for supporter, distance in nearest:
        emit(
            drill.id,
            "help_call",
            {**payload, "distance_m": int(round(distance))},
            audience=supporter_audience(supporter.id),
        )
        with force_locale(recipient_locale(supporter.locale)):
            subject, body = _help_message(call, caller, field_link)
        notify_supporter(
            supporter,
            key=key,
            kind="help_call",
            subject=subject,
            body=body,
            topic="help_call",
            topic_id=call.id,
            link=field_link,
        )
    for member in staff:
        with force_locale(recipient_locale(member.locale)):
            subject, body = _help_message(call, caller, live_link)
        notify_staff(
            member,
            key=key,
            subject=subject,
            body=body,
            topic="help_call",
            topic_id=call.id,
            district_id=drill.district_id,
        )
    db.session.flush()
    return call, True


def responder_names(call: HelpCall) -> list[str]:
    """Who answered "on my way", in the order they answered."""
    return list(
        db.session.scalars(
            sa.select(HelpResponse.responder_name)
            .where(HelpResponse.help_call_id == call.id)
            .order_by(HelpResponse.answered_at, HelpResponse.id)
        )
    )


def _person_key(person: Supporter | StaffUser) -> str:
    """ "staff:2" or "supporter:5": who answered or ended a call."""
    return f"staff:{person.id}" if getattr(person, "is_staff", False) else f"supporter:{person.id}"


def respond_to_help_call(call: HelpCall, responder: Supporter | StaffUser) -> list[str]:
    """Answer "on my way" (once per person); the caller's phone and the staff hear of it.
    Returns everyone who has answered. An answer to a call that has ended is refused
    (HelpCallEnded), but a repeat of one given before is answered as before."""
    key = _person_key(responder)
    exists = db.session.scalar(
        sa.select(HelpResponse.id).where(
            HelpResponse.help_call_id == call.id, HelpResponse.responder == key
        )
    )
    if exists is not None:
        return responder_names(call)
    if call.resolved_at is not None:
        raise HelpCallEnded()
    response = HelpResponse(
        help_call_id=call.id, responder=key, responder_name=responder.name[:100]
    )
    if not insert_once(response):
        return responder_names(call)
    names = responder_names(call)
    payload = {
        "help_call_id": call.id,
        "responder_name": response.responder_name,
        "answered_at": _iso(response.answered_at),
        "responders": names,
    }
    emit(call.drill_id, "help_response", payload, audience=supporter_audience(call.supporter_id))
    emit(call.drill_id, "help_response", payload, audience=STAFF)
    return names


# ---------------------------------------------------------------------------------------------
# Ending help calls


def help_resolved_payload(call: HelpCall) -> dict[str, Any]:
    """How a call ended, as the phones and the live view hear it (and the live view's feed)."""
    return {
        "help_call_id": call.id,
        "resolution": str(call.resolution) if call.resolution else None,
        "resolved_at": _iso(call.resolved_at),
        "resolved_by_name": call.resolved_by_name,
    }


def resolve_help_call(
    call: HelpCall,
    resolution: HelpCallResolution,
    by: Supporter | StaffUser | None = None,
    *,
    now: datetime | None = None,
) -> bool:
    """End an open help call: the caller's 「もう大丈夫」, an organizer's 「対応済み」 or the end
    of the drill (`by` None). A conditional UPDATE (... WHERE resolved_at IS NULL), so two
    endings at once (the caller and an organizer, or a retry) record only the first; returns
    True when this call ended it. The ending is an event every open page of the drill hears."""
    at = now or utcnow()
    result = db.session.execute(
        sa.update(HelpCall)
        .where(HelpCall.id == call.id, HelpCall.resolved_at.is_(None))
        .values(
            resolved_at=at,
            resolution=resolution,
            resolved_by=_person_key(by) if by is not None else None,
            resolved_by_name=by.name[:100] if by is not None else "",
        )
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(call)
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    emit(call.drill_id, "help_resolved", help_resolved_payload(call), audience=DRILL)
    return True


def close_open_help_calls(drill_id: int, *, now: datetime | None = None) -> int:
    """End every help call of the drill still open (the drill ended); returns how many."""
    at = now or utcnow()
    calls = db.session.scalars(
        sa.select(HelpCall)
        .where(HelpCall.drill_id == drill_id, HelpCall.resolved_at.is_(None))
        .order_by(HelpCall.id)
    )
    return sum(
        resolve_help_call(call, HelpCallResolution.drill_ended, now=at) for call in list(calls)
    )


def own_help_call(participant: Participant, client_id: str) -> HelpCall | None:
    """The supporter's own help call in this drill by the id the phone made for it."""
    return db.session.scalar(
        sa.select(HelpCall).where(
            HelpCall.drill_id == participant.drill_id,
            HelpCall.supporter_id == participant.supporter_id,
            HelpCall.client_id == client_id,
        )
    )


def phone_help_state(participant: Participant) -> dict[str, Any]:
    """The open help calls a phone shows when its page opens: its own (at most the latest)
    and those of others that reached it, as their help_call events told the phone (the page
    may have been closed when the event went out)."""
    supporter_id = participant.supporter_id
    open_calls = list(
        db.session.scalars(
            sa.select(HelpCall)
            .where(HelpCall.drill_id == participant.drill_id, HelpCall.resolved_at.is_(None))
            .order_by(HelpCall.id)
        )
    )
    own = [c for c in open_calls if c.supporter_id == supporter_id]
    incoming_ids = {
        c.id
        for c in open_calls
        if c.supporter_id != supporter_id
        and any(
            n.get("kind") == "supporter" and n.get("id") == supporter_id for n in c.notified or []
        )
    }
    incoming: list[dict[str, Any]] = []
    if incoming_ids:
        events = db.session.scalars(
            sa.select(LiveEvent)
            .where(
                LiveEvent.drill_id == participant.drill_id,
                LiveEvent.kind == "help_call",
                LiveEvent.audience == supporter_audience(supporter_id),
            )
            .order_by(LiveEvent.id)
        )
        answered = set(
            db.session.scalars(
                sa.select(HelpResponse.help_call_id).where(
                    HelpResponse.help_call_id.in_(incoming_ids),
                    HelpResponse.responder == f"supporter:{supporter_id}",
                )
            )
        )
        calls = {c.id: c for c in open_calls}
        for event in events:
            call_id = event.payload.get("id")
            if call_id in incoming_ids:
                incoming.append(
                    {
                        **event.payload,
                        "responders": responder_names(calls[call_id]),
                        "answered": call_id in answered,
                    }
                )
    latest = own[-1] if own else None
    return {
        "own": None
        if latest is None
        else {
            "client_id": latest.client_id,
            "id": latest.id,
            "notified": help_call_body(latest)["notified"],
            "responders": responder_names(latest),
        },
        "incoming": incoming,
    }
