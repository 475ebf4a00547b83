"""A registered person as the plain data watchnet.maps draws (maps imports no models)."""

from __future__ import annotations

from watchnet.maps.builders import MapPoint
from watchnet.maps.registry_maps import PersonMap
from watchnet.registry.models import AtRiskPerson


def person_map_data(person: AtRiskPerson) -> PersonMap:
    """Home, usual places in order and the district's centre, read from the loaded person."""
    home = None
    if person.home_lat is not None and person.home_lon is not None:
        home = (person.home_lat, person.home_lon)
    return PersonMap(
        home=home,
        home_address=person.home_address,
        places=[MapPoint(p.name, p.lat, p.lon) for p in person.places],
        district_center=(person.district.center_lat, person.district.center_lon),
    )
