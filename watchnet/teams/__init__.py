"""Teams and participants of a drill, and the printable team handout."""
