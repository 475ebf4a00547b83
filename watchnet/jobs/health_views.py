"""/healthz/delivery: the delivery report of watchnet.jobs.health as JSON.

The route sits on the core blueprint (endpoint core.healthz_delivery) but lives here, beside
the report, so that watchnet.core imports no domain package; web.py imports this module
before it registers the blueprints.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, current_app, jsonify

from watchnet.core.views import bp
from watchnet.jobs.health import delivery_health


@bp.get("/healthz/delivery")
def healthz_delivery() -> tuple[Response, int]:
    """Whether alerts are going out: the dispatchers' and the scheduler's last heartbeat and
    the oldest due message. 503 when delivery is stuck: messages are due and no dispatcher
    beat within HEALTH_DISPATCHER_STALE_S, or a due message has waited longer than
    HEALTH_DELIVERY_MAX_AGE_S. (A sibling of /healthz, which load balancers use for the web
    workers and which must not fail because a background process did.)"""
    try:
        report, stuck = delivery_health()
    except sa.exc.SQLAlchemyError as exc:
        current_app.logger.warning("delivery health check failed: %s", exc)
        return jsonify(status="error", database={"state": "unavailable"}), 503
    return jsonify(report), 503 if stuck else 200
