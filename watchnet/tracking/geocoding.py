"""Street addresses for "where am I": a Nominatim-compatible geocoder behind a short timeout.

The address is a nicety: any failure (not configured, unreachable, slow, odd answer) gives None
and the caller's sentence still comes. Answers are cached in the database by position rounded
to 4 decimals (about 10 m), so a supporter tapping twice in one spot asks the geocoder once.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from geopy.adapters import RequestsAdapter
from geopy.exc import GeopyError
from geopy.geocoders import Nominatim

from watchnet.core.extensions import db
from watchnet.core.insert_once import insert_once
from watchnet.core.turns import turn_released
from watchnet.tracking.models import GeocodeCache

log = logging.getLogger(__name__)

# After a failure the geocoder is left alone for a while, so every tap during an outage does
# not wait for the timeout again (per process; keyed by the configured URL).
FAILURE_BACKOFF_S = 30.0
_failed_until: dict[str, float] = {}
_geocoders: dict[tuple[str, float], Nominatim] = {}
_lock = threading.Lock()

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


def cache_key(lat: float, lon: float, language: str) -> str:
    """The cache key of a position: rounded to 4 decimals (about 10 m) plus the language."""
    return f"{round(lat, 4):.4f},{round(lon, 4):.4f}:{language}"


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
    """The street address near a position, or None; cached; never raises, never waits long."""
    try:
        key = cache_key(lat, lon, language)
        cached = db.session.scalar(sa.select(GeocodeCache.address).where(GeocodeCache.key == key))
        if cached is not None:
            return cached
        url = current_app.config.get("GEOCODER_URL")
        if not url:
            return None
        with _lock:
            if _failed_until.get(url, 0.0) > time.monotonic():
                return None
        address = _lookup(
            url, float(current_app.config.get("GEOCODER_TIMEOUT_S") or 2.0), lat, lon, language
        )
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
