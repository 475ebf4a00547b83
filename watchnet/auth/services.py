"""Authentication: password logins with a throttle, supporters' personal links, API tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import timedelta
from typing import cast

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.security import check_password_hash, generate_password_hash

from watchnet.audit.services import record_audit
from watchnet.auth.models import ApiToken, LoginAttempt
from watchnet.core.dbtypes import utcnow
from watchnet.core.extensions import db
from watchnet.core.urls import public_url
from watchnet.people.models import StaffUser, Supporter, password_hash_method

SIGNIN_SALT = "watchnet.supporter-signin"


@functools.cache
def _dummy_password_hash(method: str) -> str:
    """A hash of a random password, made once per process with the method and parameters
    StaffUser.set_password uses, for logins to an unknown or inactive account."""
    return generate_password_hash(secrets.token_urlsafe(24), method=method)


class LoginThrottled(Exception):
    """Too many failed attempts recently for this account or address."""


def is_login_throttled(email: str, remote_addr: str) -> bool:
    """True when the account or the address has too many recent failures."""
    cfg = current_app.config
    since = utcnow() - timedelta(seconds=cfg["LOGIN_WINDOW_S"])
    failures = (
        sa.select(sa.func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.succeeded.is_(False), LoginAttempt.attempted_at >= since)
    )
    by_email = db.session.scalar(failures.where(LoginAttempt.email == email.lower())) or 0
    by_addr = db.session.scalar(failures.where(LoginAttempt.remote_addr == remote_addr)) or 0
    max_per_email: int = cfg["LOGIN_MAX_FAILURES"]
    max_per_addr: int = cfg["LOGIN_MAX_FAILURES_PER_IP"]
    return by_email >= max_per_email or by_addr >= max_per_addr


def authenticate_staff(email: str, password: str, remote_addr: str) -> StaffUser | None:
    """Check a password login, record the attempt, raise LoginThrottled when over the limit."""
    email = email.strip().lower()
    if is_login_throttled(email, remote_addr):
        raise LoginThrottled()
    user = db.session.scalar(sa.select(StaffUser).where(sa.func.lower(StaffUser.email) == email))
    if user is not None and user.is_active:
        ok = user.check_password(password)
    else:
        # Same work as for a real account, so the answer's timing does not tell whether the
        # address has an account (unhashed: ~10 ms against ~120 ms for a known address).
        check_password_hash(_dummy_password_hash(password_hash_method()), password)
        ok = False
    db.session.add(LoginAttempt(email=email, remote_addr=remote_addr, succeeded=ok))
    if ok and user is not None:
        record_audit("staff.login", "staff_user", user.id, actor=f"staff:{user.id}")
        return user
    return None


def _signin_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SIGNIN_SALT)


def make_signin_token(supporter: Supporter) -> str:
    """The supporter's personal sign-in token; stable until revoked."""
    return str(_signin_serializer().dumps({"s": supporter.id, "v": supporter.token_version}))


def signin_url(supporter: Supporter) -> str:
    """The supporter's personal sign-in link (cards, team handouts), on PUBLIC_BASE_URL when that
    is configured."""
    return public_url("auth.supporter_signin", token=make_signin_token(supporter))


def supporter_from_signin_token(token: str) -> Supporter | None:
    """The supporter a token signs in, or None if it is forged or revoked."""
    try:
        data = _signin_serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    sid, version = data.get("s"), data.get("v")
    if not isinstance(sid, int) or not isinstance(version, int):
        return None
    supporter = db.session.get(Supporter, sid)
    if supporter is None:
        return None
    if not supporter.is_active or supporter.token_version != version:
        # A genuine link that was revoked (or its supporter deactivated): worth a record.
        record_refused_access(
            supporter,
            "signin_link",
            link_version=version,
            reason="inactive" if not supporter.is_active else "revoked",
        )
        return None
    return supporter


def end_personal_access(supporter: Supporter, reactivating: bool = False) -> int:
    """End every personal URL and session of the supporter at once; returns how many alert
    links were replaced.

    The sign-in link and every phone session carry `token_version`, so bumping it refuses them
    all. Each personal alert link (/a/<token>) gets a new random token; the old one is kept in
    `revoked_token` only to refuse it with a clear page and an audit record. The supporter's
    own page lists the new alert links once they sign in with their new link. The caller
    records why (revoked, deactivated, reactivated) and commits.

    Reactivating replaces only the alert tokens that were never replaced: a deactivation
    already did it for the rest (their new tokens were never handed out), and keeping their
    `revoked_token` keeps the link the supporter actually had refused with a record. Only the
    latest replaced token of each alert link is remembered; an older one is simply unknown.
    """
    from watchnet.alerts.models import AlertRecipient

    supporter.token_version += 1
    db.session.flush()
    query = sa.select(AlertRecipient.id).where(AlertRecipient.supporter_id == supporter.id)
    if reactivating:
        query = query.where(AlertRecipient.revoked_token.is_(None))
    ids = db.session.scalars(query).all()
    if ids:
        table = cast(sa.Table, AlertRecipient.__table__)
        db.session.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("rid"))
            .values(revoked_token=table.c.token, token=sa.bindparam("new_token")),
            [{"rid": rid, "new_token": secrets.token_urlsafe(32)} for rid in ids],
        )
        # Loaded recipients must not keep their old token in this session.
        for obj in list(db.session.identity_map.values()):
            if isinstance(obj, AlertRecipient) and obj.supporter_id == supporter.id:
                db.session.expire(obj, ["token", "revoked_token"])
    return len(ids)


def issue_new_link(supporter: Supporter, reactivating: bool = False) -> int:
    """A new personal link: the old link, its phones and alert links stop working."""
    replaced = end_personal_access(supporter, reactivating)
    supporter.link_issued_at = utcnow()
    db.session.flush()
    return replaced


def revoke_signin_token(supporter: Supporter) -> None:
    """Invalidate the personal link; every phone signed in with it is logged out, and every
    personal alert link of the supporter stops working."""
    replaced = issue_new_link(supporter)
    record_audit(
        "supporter.link_revoked",
        "supporter",
        supporter.id,
        supporter.district_id,
        link_version=supporter.token_version,
        alert_links_replaced=replaced,
    )
    db.session.flush()


def record_refused_access(supporter: Supporter, what: str, **detail: object) -> None:
    """Audit one refused use of an ended link or session and commit it at once (the request
    itself is refused, so nothing else of it is written)."""
    record_audit(
        "supporter.access_refused",
        "supporter",
        supporter.id,
        supporter.district_id,
        actor=f"supporter:{supporter.id}",
        what=what,
        **detail,
    )
    db.session.commit()


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_api_token(staff: StaffUser, name: str) -> tuple[ApiToken, str]:
    """Create an API token; the raw value is returned once and never stored."""
    raw = "wn_" + secrets.token_urlsafe(32)
    token = ApiToken(staff_id=staff.id, name=name, token_hash=_hash_token(raw), prefix=raw[:10])
    db.session.add(token)
    record_audit("api_token.issued", "staff_user", staff.id, actor=f"staff:{staff.id}", name=name)
    db.session.flush()
    return token, raw


def staff_from_api_token(raw: str) -> StaffUser | None:
    """The active staff member a bearer token belongs to, or None."""
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _hash_token(raw)))
    if token is None or token.revoked_at is not None or not token.staff.is_active:
        return None
    token.last_used_at = utcnow()
    return token.staff


def revoke_api_token(token: ApiToken) -> None:
    """Stop a token from working."""
    token.revoked_at = utcnow()
    record_audit("api_token.revoked", "staff_user", token.staff_id, name=token.name)
    db.session.flush()
