"""Folium map builders. They take domain objects and never query the database."""
