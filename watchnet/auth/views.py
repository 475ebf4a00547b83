"""Staff login and logout, supporter sign-in links, the account page with API tokens."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from watchnet.auth.access import mark_supporter_session_seen, staff_required
from watchnet.auth.forms import ApiTokenForm, LoginForm
from watchnet.auth.models import ApiToken
from watchnet.auth.services import (
    LoginThrottled,
    authenticate_staff,
    issue_api_token,
    revoke_api_token,
    supporter_from_signin_token,
)
from watchnet.core.extensions import db
from watchnet.core.urls import safe_redirect_target

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    """Password login for staff, throttled per account and per address."""
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = authenticate_staff(
                form.email.data or "", form.password.data or "", request.remote_addr or ""
            )
        except LoginThrottled:
            db.session.rollback()
            form.email.errors.append(_("Too many failed attempts. Please wait 15 minutes."))
            return render_template("auth/login.html", form=form), 429
        db.session.commit()
        if user is None:
            form.password.errors.append(_("The e-mail address or password is wrong."))
            return render_template("auth/login.html", form=form), 401
        session.clear()
        login_user(user)
        return redirect(safe_redirect_target(request.args.get("next"), url_for("core.index")))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
def logout() -> Response:
    """Log out whoever is signed in."""
    logout_user()
    session.clear()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.get("/s/<token>")
def supporter_signin(token: str) -> Response | tuple[str, int]:
    """A supporter's personal link or QR code: signs the phone in, no password."""
    supporter = supporter_from_signin_token(token)
    if supporter is None:
        return render_template("auth/link_invalid.html"), 404
    session.clear()
    # The cookie outlives the browser; the session's own lifetime (SUPPORTER_SESSION_DAYS
    # since its last use) is checked on every request (auth.access).
    session.permanent = True
    login_user(supporter)
    mark_supporter_session_seen()
    # The drill page when a drill is on today, otherwise the supporter's own page.
    return redirect(url_for("field.home"))


@bp.route("/account", methods=["GET", "POST"])
@staff_required()
def account() -> Response | str:
    """The staff member's own settings: language and API tokens."""
    form = ApiTokenForm()
    new_token = None
    if form.validate_on_submit():
        _token, new_token = issue_api_token(current_user, form.name.data or "")
        db.session.commit()
        form = ApiTokenForm(formdata=None)
    tokens = db.session.scalars(
        sa.select(ApiToken)
        .where(ApiToken.staff_id == current_user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.id)
    ).all()
    return render_template("auth/account.html", form=form, tokens=tokens, new_token=new_token)


@bp.post("/account/tokens/<int:token_id>/revoke")
@staff_required()
def revoke_token(token_id: int) -> Response:
    """Revoke one of the staff member's own API tokens."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.staff_id != current_user.id:
        abort(404)
    revoke_api_token(token)
    db.session.commit()
    flash(_("The token was revoked."), "info")
    return redirect(url_for("auth.account"))
