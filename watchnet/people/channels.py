"""A supporter's channels as the outbox reports on them: switching off an address that no
longer exists (registered with notifications.hooks at import; the dispatcher imports this)."""

from __future__ import annotations

import sqlalchemy as sa

from watchnet.core.extensions import db
from watchnet.notifications.hooks import register_address_gone
from watchnet.notifications.models import DeliveryChannel
from watchnet.people.models import LineLink, NotificationAddress, PhoneChannel, PushSubscription


def switch_off_channel(channel_ref: str, reason: str) -> None:
    """Switch off the channel a delivery's channel_ref names ("addr:3", "push:7", "line:2",
    "phone:4"), keeping the reason to show. The caller commits."""
    kind, _, raw_id = channel_ref.partition(":")
    if not raw_id.isdigit():
        return
    row_id = int(raw_id)
    reason = reason[:500]
    if kind == "addr":
        stmt = sa.update(NotificationAddress).where(NotificationAddress.id == row_id)
        db.session.execute(
            stmt.values(is_enabled=False, disabled_reason=reason).execution_options(
                synchronize_session=False
            )
        )
    elif kind == "push":
        stmt = sa.update(PushSubscription).where(PushSubscription.id == row_id)
        db.session.execute(
            stmt.values(is_enabled=False, disabled_reason=reason).execution_options(
                synchronize_session=False
            )
        )
    elif kind == "line":
        stmt = sa.update(LineLink).where(LineLink.id == row_id)
        db.session.execute(
            stmt.values(is_enabled=False).execution_options(synchronize_session=False)
        )
    elif kind == "phone":
        stmt = sa.update(PhoneChannel).where(PhoneChannel.id == row_id)
        db.session.execute(
            stmt.values(is_enabled=False, disabled_reason=reason).execution_options(
                synchronize_session=False
            )
        )


for _channel in DeliveryChannel:
    if _channel != DeliveryChannel.email:  # an e-mail address is the supporter's own record
        register_address_gone(_channel, switch_off_channel)
