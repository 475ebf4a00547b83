"""Point Folium's scripts and stylesheets at the app's own /vendor/ routes.

Folium keeps asset URLs as class attributes pointing at public CDNs. Municipal networks are
often closed, so at start-up every map class we use is pointed at files the app serves from
packages installed from PyPI (XStatic-Leaflet, XStatic-jQuery, and folium's own wheel).
Only map classes whose assets we serve are used; folium.Icon (Bootstrap, Font Awesome) is not.
"""

from __future__ import annotations

import folium
from folium.plugins import HeatMap


def use_local_assets(root: str = "/") -> None:
    """Replace CDN URLs on the folium classes with the app's /vendor/ URLs."""
    base = root.rstrip("/") + "/vendor"
    folium.Map.default_js = [
        ("leaflet", f"{base}/leaflet/leaflet.js"),
        ("jquery", f"{base}/jquery/jquery.min.js"),
    ]
    folium.Map.default_css = [("leaflet_css", f"{base}/leaflet/leaflet.css")]
    HeatMap.default_js = [("leaflet-heat.js", f"{base}/folium/leaflet_heat.min.js")]
