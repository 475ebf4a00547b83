"""The organizer's live view of a drill (blueprint live): snapshot, event stream, start and end."""
