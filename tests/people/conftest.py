"""Each test request gets a fresh `g`, as in production.

The shared autouse fixture keeps one app context open for the whole test, and Flask reuses
it for every request, so `g` (Flask-Login's cached user, Flask-Babel's locale) would leak
from one client's request into the next client's. Clearing it when a request starts makes
"the outsider gets 404" mean what it says.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, g, request_started


def _fresh_g(sender: Flask, **extra: Any) -> None:
    for name in list(vars(g)):
        delattr(g, name)


@pytest.fixture(autouse=True)
def _fresh_g_per_request(app: Flask) -> Iterator[None]:
    request_started.connect(_fresh_g, app)
    yield
    request_started.disconnect(_fresh_g, app)


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
    from watchnet.extensions import db

    organizer.locale = "en"
    db.session.commit()
    return organizer
