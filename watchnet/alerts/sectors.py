"""Search sectors (捜索区域): the search area cut into H3 hexagons that searchers take one at a
time, and what the map shows of each — taken (by whom), walked (from the searchers' shared
positions) or untouched, with the person's usual places marked as priorities.

The grid is fixed per alert (ALERT_SECTOR_RESOLUTION): widening the radius adds cells around
the same ones, so claims and walked cells keep their meaning while the search grows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import h3
import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from watchnet.alerts.models import Alert, AlertRecipient, SearchSectorClaim, WalkedSector
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.core.geo import haversine_m
from watchnet.people.models import Supporter
from watchnet.registry.models import UsualPlace

DEFAULT_RESOLUTION = 8
# A 9.5 km radius at resolution 8 is about 400 cells; anything far above this is a mistake in
# the settings and would make the phone's map unusable.
MAX_SECTORS = 2000


class SectorError(ValueError):
    """A claim that cannot be made; `field` and the message go back to the phone."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class SectorState:
    """What the map shows of one sector."""

    cell: str
    taken_by_id: int | None = None  # supporter holding the open claim
    taken_by_name: str = ""  # their short name (family name only), never the full name
    walked: bool = False
    priority: bool = False  # a usual place of the person lies in it

    @property
    def state(self) -> str:
        """ "taken", "walked" or "untouched" (a taken cell may also have been walked)."""
        if self.taken_by_id is not None:
            return "taken"
        return "walked" if self.walked else "untouched"


def sector_resolution() -> int:
    """The H3 resolution of sectors from the settings."""
    if has_app_context():
        return int(current_app.config.get("ALERT_SECTOR_RESOLUTION", DEFAULT_RESOLUTION))
    return DEFAULT_RESOLUTION


def cell_of(lat: float, lon: float, resolution: int | None = None) -> str:
    """The sector holding a point."""
    return str(h3.latlng_to_cell(lat, lon, resolution or sector_resolution()))


def sector_cells(lat: float, lon: float, radius_m: float, resolution: int) -> list[str]:
    """H3 cells covering the circle: every cell whose centre or a corner lies within it, plus
    the cell of the centre itself. Sorted for stable output."""
    return list(_covering_cells(lat, lon, float(radius_m), resolution))


# Every searcher's page asks for the same area every few seconds; at the outer ring that is
# ~440 cells and ~10 ms of geometry, so the answer is kept per (point, radius, resolution).
@lru_cache(maxsize=256)
def _covering_cells(lat: float, lon: float, radius_m: float, resolution: int) -> tuple[str, ...]:
    centre = h3.latlng_to_cell(lat, lon, resolution)
    edge_m = float(h3.average_hexagon_edge_length(resolution, unit="m"))
    # Neighbouring centres are about √3·edge apart; one ring more covers the cells cut by the
    # circle's edge.
    rings = int(math.ceil(max(radius_m, 0.0) / (edge_m * math.sqrt(3)))) + 1
    here = (lat, lon)
    cells = {str(centre)}
    for cell in h3.grid_disk(centre, rings):
        points = [h3.cell_to_latlng(cell), *h3.cell_to_boundary(cell)]
        if any(haversine_m(here, p) <= radius_m for p in points):
            cells.add(str(cell))
        if len(cells) > MAX_SECTORS:
            break
    return tuple(sorted(cells))


def cell_boundary(cell: str) -> list[list[float]]:
    """The hexagon's corners as [lat, lon] pairs (for Leaflet polygons), 6 decimals."""
    return [[round(a, 6), round(b, 6)] for a, b in h3.cell_to_boundary(cell)]


def search_radius_m(alert: Alert) -> float:
    """The radius the search covers now: the coordinator's override, else the radius reached
    so far by the schedule (the one that chose who was told)."""
    if alert.radius_override_m is not None:
        return float(alert.radius_override_m)
    return float(alert.radius_m or 0.0)


def alert_cells(alert: Alert) -> list[str]:
    """The sectors of an alert's current search area."""
    return sector_cells(
        alert.last_seen_lat, alert.last_seen_lon, search_radius_m(alert), sector_resolution()
    )


def short_name(name: str) -> str:
    """The first word of a name (the family name in Japanese order): enough for searchers to
    know who holds a sector, without spreading full names."""
    parts = name.replace("\u3000", " ").split()
    return parts[0] if parts else ""


def open_claims(alert_id: int) -> list[SearchSectorClaim]:
    """Claims not yet released, with their supporters."""
    query = (
        sa.select(SearchSectorClaim)
        .where(SearchSectorClaim.alert_id == alert_id, SearchSectorClaim.released_at.is_(None))
        .options(joinedload(SearchSectorClaim.supporter))
        .order_by(SearchSectorClaim.id)
    )
    return list(db.session.scalars(query))


def walked_cells(alert_id: int) -> set[str]:
    """Cells where a searcher's shared position has been (noted by record_walked_cells)."""
    return set(
        db.session.scalars(sa.select(WalkedSector.cell).where(WalkedSector.alert_id == alert_id))
    )


def priority_cells(alert: Alert, resolution: int | None = None) -> set[str]:
    """Cells holding one of the person's usual places (none for an alert from a description)."""
    if alert.person_id is None:
        return set()
    places = db.session.execute(
        sa.select(UsualPlace.lat, UsualPlace.lon).where(UsualPlace.person_id == alert.person_id)
    )
    return {cell_of(lat, lon, resolution) for lat, lon in places}


def sector_states(alert: Alert, area: list[str] | None = None) -> dict[str, SectorState]:
    """Every sector of the current search area (plus any taken or walked outside it, so a
    narrowed radius does not hide work already done), keyed by cell. `area` is
    alert_cells(alert) when the caller already has it."""
    resolution = sector_resolution()
    cells = set(alert_cells(alert) if area is None else area)
    claims = {c.cell: c for c in open_claims(alert.id)}
    walked = walked_cells(alert.id)
    priority = priority_cells(alert, resolution) & cells
    states: dict[str, SectorState] = {}
    for cell in sorted(cells | set(claims) | walked):
        claim = claims.get(cell)
        states[cell] = SectorState(
            cell=cell,
            taken_by_id=claim.supporter_id if claim else None,
            taken_by_name=short_name(claim.supporter.name) if claim else "",
            walked=cell in walked,
            priority=cell in priority,
        )
    return states


def _lock_alert(alert_id: int) -> Alert | None:
    """Serialise claims of one alert: a no-op UPDATE takes the row lock on PostgreSQL and the
    write lock on SQLite, so the check "is this cell free?" and the insert cannot interleave
    with another searcher's claim (the table has no unique index on open claims)."""
    db.session.execute(sa.update(Alert).where(Alert.id == alert_id).values(revision=Alert.revision))
    return db.session.get(Alert, alert_id, populate_existing=True)


def current_claim(recipient: AlertRecipient) -> SearchSectorClaim | None:
    """The supporter's open claim in this alert, if any."""
    return db.session.scalar(
        sa.select(SearchSectorClaim).where(
            SearchSectorClaim.alert_id == recipient.alert_id,
            SearchSectorClaim.supporter_id == recipient.supporter_id,
            SearchSectorClaim.released_at.is_(None),
        )
    )


def claim_sector(
    recipient: AlertRecipient, cell: str, now: datetime | None = None
) -> tuple[SearchSectorClaim, bool]:
    """Take a sector for the recipient; their previous sector (one open claim per supporter)
    is released. Returns (claim, created); taking the sector one already holds changes
    nothing. Raises SectorError: 422 for a cell outside the search area, 409 when another
    searcher holds it or the alert is closed. Flushes; the caller commits."""
    now = now or utcnow()
    alert = _lock_alert(recipient.alert_id)
    if alert is None or not alert.is_active:
        raise SectorError(_("The search has ended."), status=409)
    if (
        not isinstance(cell, str)
        or not h3.is_valid_cell(cell)
        or cell not in set(alert_cells(alert))
    ):
        raise SectorError(_("This sector is not in the search area."))
    mine = current_claim(recipient)
    if mine is not None and mine.cell == cell:
        return mine, False
    holder = db.session.scalar(
        sa.select(SearchSectorClaim).where(
            SearchSectorClaim.alert_id == alert.id,
            SearchSectorClaim.cell == cell,
            SearchSectorClaim.released_at.is_(None),
        )
    )
    if holder is not None:
        raise SectorError(_("Someone else has already taken this sector."), status=409)
    if mine is not None:
        mine.released_at = now
    claim = SearchSectorClaim(
        alert_id=alert.id, cell=cell, supporter_id=recipient.supporter_id, claimed_at=now
    )
    db.session.add(claim)
    db.session.flush()
    return claim, True


def release_sector(recipient: AlertRecipient, now: datetime | None = None) -> str | None:
    """Give back the recipient's sector; returns the cell released (None if they held none).
    Flushes; the caller commits."""
    _lock_alert(recipient.alert_id)
    mine = current_claim(recipient)
    if mine is None:
        return None
    mine.released_at = now or utcnow()
    db.session.flush()
    return mine.cell


def supporter_name(supporter_id: int) -> str:
    """The short name of a supporter for event payloads."""
    name = db.session.scalar(sa.select(Supporter.name).where(Supporter.id == supporter_id))
    return short_name(name or "")
