"""A drill as the plain data watchnet.maps draws (maps imports no models)."""

from __future__ import annotations

from watchnet.drills.models import Drill
from watchnet.maps.builders import MapPoint
from watchnet.maps.drill_maps import DrillMap


def drill_map_data(drill: Drill) -> DrillMap:
    """The route, the checkpoints in order and the district's centre, read here (in the
    drill's own package) so that the map builders never load a relation."""
    return DrillMap(
        route=drill.route_latlons,
        checkpoints=[MapPoint(cp.name, cp.lat, cp.lon) for cp in drill.checkpoints],
        district_center=(drill.district.center_lat, drill.district.center_lon),
    )
