"""Alert exports for coordinators (blueprint alert_exports): CAP 1.2, GeoJSON, the flyer."""
