"""Feedback after a drill (ふりかえり): viewpoints, themes and chosen quotes."""
