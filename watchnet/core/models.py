"""Tables of the shared core: what no domain owns (the geocoder's answers)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from watchnet.core.dbtypes import UTCDateTime, utcnow
from watchnet.core.extensions import Model


class GeocodeCache(Model):
    """Street addresses the geocoder gave, keyed by a rounded position (about 10 m)."""

    __tablename__ = "geocode_cache"

    key: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    address: Mapped[str] = mapped_column(sa.String(500))
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
