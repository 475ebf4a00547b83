"""The one geocoder: a Nominatim-compatible server (GEOCODER_URL) behind a short timeout
(GEOCODER_TIMEOUT_S), for both directions.

- Reverse, for "where am I" (`reverse_geocode`): the address is a nicety, so any failure (not
  configured, unreachable, slow, odd answer) gives None and the caller's sentence still comes.
  Answers are cached in the database by position rounded to 4 decimals (about 10 m), so a
  supporter tapping twice in one spot asks the geocoder once; after a failure the geocoder is
  left alone for FAILURE_BACKOFF_S.
- Forward, for the alert start form (`find_address`): the answer matters, so failures are told
  apart: not configured or unreachable (GeocoderUnavailable: the coordinator clicks the map
  instead) and not found (None). Not cached and not backed off: a coordinator types an address
  once, and must hear at once whether the search can be reached.

Both share one client per URL and timeout (its HTTP session is reused) and give up the
request turn (core/turns.py) while they wait on the network. Knows no domain.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from geopy.adapters import RequestsAdapter
from geopy.exc import GeopyError
from geopy.geocoders import Nominatim
from geopy.point import Point

from watchnet.core.extensions import db
from watchnet.core.insert_once import insert_once
from watchnet.core.models import GeocodeCache
from watchnet.core.turns import turn_released

log = logging.getLogger(__name__)

# After a failure the geocoder is left alone for a while, so every tap during an outage does
# not wait for the timeout again (per process; keyed by the configured URL).
FAILURE_BACKOFF_S = 30.0
_failed_until: dict[str, float] = {}
_geocoders: dict[tuple[str, float], Nominatim] = {}
_lock = threading.Lock()

# Forward search near a point first: half a degree (~50 km) around it, not bounded, so a
# well-known place further away is still found.
NEAR_DEGREES = 0.5
QUERY_MAX = 300

# Nominatim address parts, from the larger area to the house, as a Japanese address is read.
_JA_PARTS = (
    "city",
    "town",
    "village",
    "city_district",
    "suburb",
    "quarter",
    "neighbourhood",
    "road",
    "house_number",
)


class GeocoderUnavailable(RuntimeError):
    """The geocoder is not configured or did not answer in time."""


@dataclass(frozen=True)
class FoundPlace:
    """A forward search's best match."""

    lat: float
    lon: float
    address: str


def _settings() -> tuple[str | None, float]:
    """The configured geocoder URL (None: off) and its timeout."""
    config = current_app.config
    return config.get("GEOCODER_URL") or None, float(config.get("GEOCODER_TIMEOUT_S") or 2.0)


def nominatim_for(url: str, timeout_s: float) -> Nominatim:
    """The process's geocoder client for a URL (made once; its HTTP session is reused)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    domain = parts.netloc + parts.path.rstrip("/")
    key = (url, timeout_s)
    with _lock:
        geocoder = _geocoders.get(key)
        if geocoder is None:
            # No retries: geopy's default of two would triple the wait for a dead geocoder.
            geocoder = Nominatim(
                domain=domain,
                scheme=parts.scheme or "http",
                user_agent="watchnet",
                timeout=timeout_s,
                adapter_factory=partial(RequestsAdapter, max_retries=0),
            )
            _geocoders[key] = geocoder
    return geocoder


# ---------------------------------------------------------------------------------------------
# Forward: an address typed by a coordinator becomes a point


def find_address(
    query: str, *, near: tuple[float, float] | None = None, language: str = "ja"
) -> FoundPlace | None:
    """The best match for an address or place name, or None when nothing matches.

    Raises GeocoderUnavailable when GEOCODER_URL is unset or the geocoder fails or times out.
    """
    query = " ".join(query.split())[:QUERY_MAX]
    if not query:
        return None
    url, timeout_s = _settings()
    if not url:
        raise GeocoderUnavailable("GEOCODER_URL is not set")
    viewbox = None
    if near is not None:
        viewbox = [
            Point(near[0] - NEAR_DEGREES, near[1] - NEAR_DEGREES),
            Point(near[0] + NEAR_DEGREES, near[1] + NEAR_DEGREES),
        ]
    try:
        with turn_released():
            location = nominatim_for(url, timeout_s).geocode(
                query,
                exactly_one=True,
                language=language,
                viewbox=viewbox,
                bounded=False,
                timeout=timeout_s,
            )
    except (GeopyError, OSError, ValueError) as exc:
        log.info("geocoder unavailable: %s", exc)
        raise GeocoderUnavailable(str(exc)) from exc
    if location is None:
        return None
    address = str(getattr(location, "address", "") or query)[:QUERY_MAX]
    return FoundPlace(lat=float(location.latitude), lon=float(location.longitude), address=address)


# ---------------------------------------------------------------------------------------------
# Reverse: the street address near a position, for "where am I"


def cache_key(lat: float, lon: float, language: str) -> str:
    """The cache key of a position: rounded to 4 decimals (about 10 m) plus the language."""
    return f"{round(lat, 4):.4f},{round(lon, 4):.4f}:{language}"


def format_address(raw: dict[str, Any], language: str) -> str | None:
    """A short address to read aloud from a Nominatim answer (Japanese order for "ja")."""
    address = raw.get("address")
    if language == "ja" and isinstance(address, dict):
        seen: list[str] = []
        for part in _JA_PARTS:
            value = address.get(part)
            if isinstance(value, str) and value and value not in seen:
                seen.append(value)
        if seen:
            return "".join(seen)[:500]
    display = raw.get("display_name")
    if isinstance(display, str) and display.strip():
        return display.strip()[:500]
    return None


def _lookup(url: str, timeout_s: float, lat: float, lon: float, language: str) -> str | None:
    try:
        with turn_released():
            location = nominatim_for(url, timeout_s).reverse(
                (lat, lon), exactly_one=True, language=language, timeout=timeout_s
            )
    except (GeopyError, OSError, ValueError) as exc:
        log.info("geocoder unavailable: %s", exc)
        with _lock:
            _failed_until[url] = time.monotonic() + FAILURE_BACKOFF_S
        return None
    if location is None or not isinstance(getattr(location, "raw", None), dict):
        return None
    return format_address(location.raw, language)


def reverse_geocode(lat: float, lon: float, language: str = "ja") -> str | None:
    """The street address near a position, or None; cached; never raises, never waits long.

    A new answer is added to the caller's transaction (the caller commits)."""
    try:
        key = cache_key(lat, lon, language)
        cached = db.session.scalar(sa.select(GeocodeCache.address).where(GeocodeCache.key == key))
        if cached is not None:
            return cached
        url, timeout_s = _settings()
        if not url:
            return None
        with _lock:
            if _failed_until.get(url, 0.0) > time.monotonic():
                return None
        address = _lookup(url, timeout_s, lat, lon, language)
        if address is None:
            return None
        insert_once(GeocodeCache(key=key, address=address))  # or another request cached it first
        return address
    except Exception:  # noqa: BLE001 - the sentence must come whatever the geocoder does
        log.exception("reverse geocoding failed")
        return None


def forget_failures() -> None:
    """Clear the per-process failure backoff (tests, or after reconfiguring)."""
    with _lock:
        _failed_until.clear()
