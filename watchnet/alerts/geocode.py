"""Forward geocoding for the alert start form: an address typed by the coordinator becomes the
last-seen point, through the same Nominatim-compatible geocoder as "where am I"
(GEOCODER_URL, GEOCODER_TIMEOUT_S; see watchnet/tracking/geocoding.py for the reverse side).

Unlike "where am I", the answer matters here, so failures are told apart: not configured or
unreachable (GeocoderUnavailable: the coordinator clicks the map instead) and not found (None).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app
from geopy.exc import GeopyError
from geopy.point import Point

from watchnet.core.turns import turn_released
from watchnet.tracking.geocoding import nominatim_for

log = logging.getLogger(__name__)

# Search near the district first: half a degree (~50 km) around its centre, not bounded, so a
# well-known place further away is still found.
NEAR_DEGREES = 0.5
QUERY_MAX = 300


class GeocoderUnavailable(RuntimeError):
    """The geocoder is not configured or did not answer in time."""


@dataclass(frozen=True)
class FoundPlace:
    lat: float
    lon: float
    address: str


def find_address(
    query: str, *, near: tuple[float, float] | None = None, language: str = "ja"
) -> FoundPlace | None:
    """The best match for an address or place name, or None when nothing matches.

    Raises GeocoderUnavailable when GEOCODER_URL is unset or the geocoder fails or times out.
    """
    query = " ".join(query.split())[:QUERY_MAX]
    if not query:
        return None
    url = current_app.config.get("GEOCODER_URL")
    if not url:
        raise GeocoderUnavailable("GEOCODER_URL is not set")
    timeout_s = float(current_app.config.get("GEOCODER_TIMEOUT_S") or 2.0)
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
