"""Fixtures of the reflection tests; they live in reflection_support.py with their helpers."""

from reflection_support import known_drill, previous_drill  # noqa: F401
