"""Fixtures of the notification tests: the LINE Messaging API stand-in (line_support.py)."""

from line_support import line_on, line_standin  # noqa: F401 - fixtures
