"""The drill on the phone (blueprint field): the field page, positions, steps, help calls,
"where am I", the phone's event stream."""
