"""Fixtures for the supporter tests: a phone signed in by its personal link, English pages."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask


@pytest.fixture()
def phone(app: Flask) -> Any:
    """phone(supporter): a new client signed in through the supporter's personal link."""
    from watchnet.auth.services import make_signin_token

    def sign_in(supporter: Any) -> Any:
        client = app.test_client()
        response = client.get(f"/s/{make_signin_token(supporter)}")
        assert response.status_code == 302
        return client

    return sign_in


@pytest.fixture()
def english(organizer: Any) -> Any:
    """The organizer reads the pages in English (wording checks use the msgids)."""
    from watchnet.core.extensions import db

    organizer.locale = "en"
    db.session.commit()
    return organizer


# The LINE Messaging API stand-in, for the linking and webhook tests (test_line_link.py).
from notifications.line_support import line_on, line_standin  # noqa: E402, F401 - fixtures
