"""Where a point is, in words a supporter can read aloud to 110 or to a family member.

The order: the address of the nearest point of an imported address file (offline, within
ADDRESS_POINT_RADIUS_M: 「高崎市八幡町123番地付近」), else the configured geocoder's address
(online, core/geocoding.py), else the nearest landmark or checkpoint with direction and distance
(「八幡公民館の北東 約120m」) and the town of the nearest address point if one is within
TOWN_HINT_M. The nearest landmark follows an address as a second sentence. The coordinates
come apart, for small type after the sentence: never the main text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from flask import current_app
from flask_babel import gettext as _

from watchnet.core import geo, geocoding
from watchnet.districts.addresses import address_text, nearest_address_point, town_text
from watchnet.districts.models import District

# Beyond ADDRESS_POINT_RADIUS_M the nearest point still tells the town (大字・町丁目) one is
# in, as long as it is this close: a rural 大字 is large and its lots far apart.
TOWN_HINT_M = 600.0


@dataclass(frozen=True)
class PlaceDescription:
    """A position in words: the sentence to read aloud, a short form, and its parts."""

    sentence: str  # one or two full sentences in the current language, without coordinates
    short: str  # a phrase for a title or an alert: 高崎市八幡町123番地付近
    address: str | None
    address_source: str | None  # "address_file" (offline), "geocoder", or None
    relative: str | None  # 八幡公民館の北東 約120m
    town: str | None  # 高崎市八幡町, when no address was near
    lat: float
    lon: float
    coords: str  # 36.33380, 138.94600
    coords_sentence: str  # 緯度・経度は 36.33380, 138.94600 です。

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def format_coords(lat: float, lon: float) -> str:
    """Coordinates as read aloud or typed into a map: "36.33380, 138.94600"."""
    return f"{lat:.5f}, {lon:.5f}"


def district_places(district: District) -> list[geo.NamedPlace]:
    """The district's landmarks as named places."""
    return [geo.NamedPlace(lm.name, lm.lat, lm.lon) for lm in district.landmarks]


def _address(lat: float, lon: float, language: str, online: bool) -> tuple[str | None, ...]:
    """(address, its source, town): offline points first, then the geocoder."""
    radius_m = float(current_app.config["ADDRESS_POINT_RADIUS_M"])
    near = nearest_address_point(lat, lon, radius_m)
    if near is not None:
        return address_text(near[0]), "address_file", None
    address = geocoding.reverse_geocode(lat, lon, language) if online else None
    if address:
        return address, "geocoder", None
    wider = nearest_address_point(lat, lon, max(TOWN_HINT_M, radius_m))
    return None, None, town_text(wider[0]) if wider is not None else None


def describe_place(
    lat: float,
    lon: float,
    places: Sequence[geo.NamedPlace],
    language: str,
    *,
    online: bool = True,
    landmark_max_m: float | None = None,
) -> PlaceDescription:
    """Where a position is, in the current locale's language (`language` names the compass
    points and the geocoder's language). `online` False: no geocoder round trip (a help call
    in the other languages). A landmark farther than `landmark_max_m` is not named. Never
    raises for the geocoder."""
    address, source, town = _address(lat, lon, language, online)
    nearest = geo.nearest_place((lat, lon), places)
    relative = None
    if nearest is not None and (landmark_max_m is None or nearest[1] <= landmark_max_m):
        relative = geo.relative_phrase((lat, lon), nearest[0], language)
    coords = format_coords(lat, lon)
    parts: list[str] = []
    if address:
        parts.append(_("You are around %(address)s.", address=address))
        if relative:
            parts.append(_("That is %(place)s.", place=relative))
        short = _("around %(address)s", address=address)
    elif relative:
        parts.append(_("You are %(place)s.", place=relative))
        if town:
            parts.append(_("You are in the area of %(town)s.", town=town))
        short = relative
    elif town:
        parts.append(_("You are in the area of %(town)s.", town=town))
        short = _("the area of %(town)s", town=town)
    else:
        parts.append(
            _(
                "No address or landmark is known near here. "
                "Please read out the latitude and longitude below."
            )
        )
        short = coords
    return PlaceDescription(
        sentence=" ".join(parts) if language != "ja" else "".join(parts),
        short=short,
        address=address,
        address_source=source,
        relative=relative,
        town=town,
        lat=lat,
        lon=lon,
        coords=coords,
        coords_sentence=_("Latitude and longitude: %(coords)s.", coords=coords),
    )


def place_phrase(
    lat: float,
    lon: float,
    places: Sequence[geo.NamedPlace],
    language: str,
    *,
    landmark_max_m: float | None = 3000.0,
) -> str:
    """A place for an alert's "last seen" line: the address and the landmark together
    (高崎市八幡町123番地付近（八幡公民館の北東 約120m）), or whichever is known; "" if none."""
    place = describe_place(lat, lon, places, language, landmark_max_m=landmark_max_m)
    if place.address and place.relative:
        return _("%(address)s (%(place)s)", address=place.short, place=place.relative)
    if place.address or place.relative or place.town:
        return place.short
    return ""
