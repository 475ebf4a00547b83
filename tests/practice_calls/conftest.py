"""Fixtures of the practice-call tests: the chain "e-mail, then the webhook" for practice calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from practice_support import PRACTICE_CHAINS


@pytest.fixture()
def practice_chain(app: Flask) -> Iterator[None]:
    previous = app.config["CHANNEL_CHAINS"], app.config["ESCALATION_STEPS"]
    app.config.update(CHANNEL_CHAINS=PRACTICE_CHAINS, ESCALATION_STEPS=["practice_call=5"])
    yield
    app.config.update(CHANNEL_CHAINS=previous[0], ESCALATION_STEPS=previous[1])
