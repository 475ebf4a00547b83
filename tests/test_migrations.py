"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade

from watchnet import create_app
from watchnet.alerts.models import Alert, SearchPosition, WalkedSector
from watchnet.alerts.sectors import cell_of
from watchnet.core.config import normalise_database_url
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.districts.models import District
from watchnet.people.services import register_supporter


def _fresh_database_url(tmp_path) -> tuple[str, str | None]:
    url = os.environ.get("WATCHNET_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'migrations.sqlite3'}", None
    # A schema of its own, so the migration run does not touch the suite's tables.
    schema = f"mig_{uuid.uuid4().hex[:8]}"
    url = normalise_database_url(url)
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}", schema


@contextmanager
def fresh_app(tmp_path: Path) -> Iterator[Flask]:
    """An app on an empty database (SQLite file, or a PostgreSQL schema of its own)."""
    url, schema = _fresh_database_url(tmp_path)
    if schema:
        admin = sa.create_engine(normalise_database_url(os.environ["WATCHNET_TEST_DATABASE_URL"]))
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x", "TESTING": True})
        with app.app_context():
            try:
                yield app
            finally:
                db.session.remove()
                db.engine.dispose()
    finally:
        if schema:
            with admin.begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


def test_migrations_match_the_models_and_downgrade_cleanly(tmp_path):
    with fresh_app(tmp_path):
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []
        downgrade(revision="base")
        remaining = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert remaining == set()


def test_upgrading_marks_the_sectors_already_walked_before_0003(tmp_path):
    """Positions shared during an alert that was running when 0003 was applied: their sectors
    show as walked afterwards, once each, with the earliest time."""
    with fresh_app(tmp_path):
        upgrade()
        district = District(name="八幡地区", center_lat=36.3335, center_lon=138.9455)
        db.session.add(district)
        db.session.flush()
        supporter = register_supporter(
            district, name="歩行 一郎", name_kana="ほこう いちろう", kind="community_supporter"
        )
        now = utcnow()
        alert = Alert(
            district_id=district.id,
            last_seen_at=now,
            last_seen_lat=36.3335,
            last_seen_lon=138.9455,
            radius_m=1200.0,
            started_at=now,
            contact_phone="027-123-4567",
        )
        db.session.add(alert)
        db.session.flush()
        walk = [(36.3335, 138.9455, 3), (36.3336, 138.9456, 1), (36.3400, 138.9300, 2)]
        for i, (lat, lon, minutes) in enumerate(walk):
            db.session.add(
                SearchPosition(
                    alert_id=alert.id,
                    supporter_id=supporter.id,
                    client_id=f"p{i}",
                    lat=lat,
                    lon=lon,
                    cell=cell_of(lat, lon, 8),
                    recorded_at=now - timedelta(minutes=minutes),
                )
            )
        db.session.commit()
        downgrade(revision="0002")
        upgrade()
        rows = db.session.execute(
            sa.select(WalkedSector.cell, WalkedSector.first_walked_at).where(
                WalkedSector.alert_id == alert.id
            )
        ).all()
        assert dict(rows) == {
            cell_of(36.3335, 138.9455, 8): now - timedelta(minutes=3),
            cell_of(36.3400, 138.9300, 8): now - timedelta(minutes=2),
        }
