"""geo.py: distances, bearings and the phrases people read aloud."""

from __future__ import annotations

import math

import pytest

from watchnet.core import geo


def test_one_degree_of_latitude_is_about_111_km():
    assert geo.haversine_m((36.0, 139.0), (37.0, 139.0)) == pytest.approx(111_195, rel=1e-3)


def test_bearing_points_the_right_way():
    assert geo.bearing_deg((36.0, 139.0), (36.1, 139.0)) == pytest.approx(0.0, abs=1e-6)
    assert geo.bearing_deg((36.0, 139.0), (36.0, 139.1)) == pytest.approx(90.0, abs=0.1)
    assert geo.compass_point(44.0) == "北東"
    assert geo.compass_point(200.0, "en") == "south"
    assert geo.compass_point(359.0) == "北"


def test_route_length_and_walking_time_at_an_elders_pace():
    points = [(36.0, 139.0), (36.001, 139.0), (36.001, 139.001)]
    length = geo.route_length_m(points)
    assert length == pytest.approx(111.195 + 89.95, rel=2e-3)
    assert geo.walking_time_s(length, 1.0) == pytest.approx(length)
    with pytest.raises(ValueError):
        geo.walking_time_s(100, 0)


def test_relative_phrase_reads_like_a_person_would_say_it():
    hall = geo.NamedPlace("八幡公民館", 36.3338, 138.9460)
    # About 85 m north and 85 m east of the hall.
    here = (36.3338 + 85 / 111_195, 138.9460 + 85 / (111_195 * math.cos(math.radians(36.3338))))
    assert geo.relative_phrase(here, hall) == "八幡公民館の北東 約120m"
    assert geo.relative_phrase(here, hall, "en") == "about 120 m northeast of 八幡公民館"
    assert geo.relative_phrase((36.3338, 138.9460), hall) == "八幡公民館のすぐそば"


def test_nearest_place_and_rounding():
    places = [geo.NamedPlace("A", 36.0, 139.0), geo.NamedPlace("B", 36.01, 139.0)]
    best = geo.nearest_place((36.009, 139.0), places)
    assert best is not None and best[0].name == "B"
    assert geo.nearest_place((36.0, 139.0), []) is None
    assert geo.format_distance(1234) == "約1.2km"
    assert geo.format_distance(44) == "約40m"


@pytest.mark.parametrize(
    ("lat", "lon", "ok"),
    [
        (36.0, 139.0, True),
        (90.0, 180.0, True),
        (90.0001, 0.0, False),
        (0.0, -180.01, False),
        (float("nan"), 0.0, False),
        (0.0, float("inf"), False),
    ],
)
def test_coordinates_out_of_range_are_refused(lat, lon, ok):
    assert geo.is_valid_latlon(lat, lon) is ok


def test_bounding_box_contains_the_circle():
    min_lat, min_lon, max_lat, max_lon = geo.bounding_box((36.0, 139.0), 1000)
    assert geo.haversine_m((36.0, 139.0), (max_lat, 139.0)) == pytest.approx(1000, rel=1e-3)
    assert geo.haversine_m((36.0, 139.0), (36.0, max_lon)) == pytest.approx(1000, rel=1e-3)
    assert min_lat < 36.0 < max_lat and min_lon < 139.0 < max_lon
