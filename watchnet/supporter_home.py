"""The supporter's own phone page (/me): their alerts and their drills on one page.

It composes alerts, drills and people, so it sits above the domain packages (people knows
neither drills nor alerts); the route stays on the people blueprint: people.supporter_home.
"""

from __future__ import annotations

from flask import Response, make_response, render_template
from flask_login import current_user

from watchnet.alerts.field.services import active_alerts_for
from watchnet.auth.access import supporter_required
from watchnet.core.validation import safe_color
from watchnet.core.webapp import mark_offline_copy
from watchnet.drills.participations import recent_ended_participations, upcoming_participations
from watchnet.people.line_views import line_section
from watchnet.people.push_views import push_button
from watchnet.people.views import bp


@bp.get("/me")
@supporter_required
def supporter_home() -> Response:
    """The supporter's phone page: greeting, their drills, how to approach someone, adding
    the app to the home screen and turning notifications on; kept for use without network."""
    supporter = current_user._get_current_object()
    page = render_template(
        "people/me.html",
        supporter=supporter,
        alerts=active_alerts_for(supporter),
        participations=upcoming_participations(supporter.id),
        ended=recent_ended_participations(supporter.id),
        safe_color=safe_color,
        push=push_button(supporter.id),
        line=line_section(supporter),
    )
    return mark_offline_copy(make_response(page))
