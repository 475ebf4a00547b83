"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from watchnet import create_app
from watchnet.config import normalise_database_url
from watchnet.extensions import db


def _fresh_database_url(tmp_path) -> tuple[str, str | None]:
    url = os.environ.get("WATCHNET_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'migrations.sqlite3'}", None
    # A schema of its own, so the migration run does not touch the suite's tables.
    schema = f"mig_{uuid.uuid4().hex[:8]}"
    url = normalise_database_url(url)
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}", schema


def test_migrations_match_the_models_and_downgrade_cleanly(tmp_path):
    url, schema = _fresh_database_url(tmp_path)
    if schema:
        admin = sa.create_engine(normalise_database_url(os.environ["WATCHNET_TEST_DATABASE_URL"]))
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x", "TESTING": True})
        with app.app_context():
            upgrade()
            with db.engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                assert compare_metadata(context, db.metadata) == []
            downgrade(revision="base")
            remaining = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
            assert remaining == set()
            db.engine.dispose()
    finally:
        if schema:
            with admin.begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()
