"""The supporter's side of an alert, on the phone through the personal link /a/<token>
(blueprint alert_field): the page, positions, sectors, sightings."""
