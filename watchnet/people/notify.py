"""Messages to people (supporters on every channel they registered, staff by e-mail), queued in
the outbox. Lives here, not in watchnet.notifications, so that the outbox knows no domain: it
takes addresses, people know theirs."""

from __future__ import annotations

from watchnet.notifications.models import Delivery, DeliveryChannel
from watchnet.notifications.services import enqueue_delivery
from watchnet.people.models import StaffUser, Supporter


def notify_supporter(
    supporter: Supporter,
    *,
    key: str,
    subject: str,
    body: str,
    topic: str,
    topic_id: int | None = None,
) -> list[Delivery]:
    """Queue a message to every channel a supporter registered (e-mail, apprise URLs)."""
    deliveries = []
    if supporter.email:
        deliveries.append(
            enqueue_delivery(
                dedupe_key=f"{key}:supporter:{supporter.id}:email",
                channel=DeliveryChannel.email,
                address=supporter.email,
                subject=subject,
                body=body,
                topic=topic,
                topic_id=topic_id,
                supporter_id=supporter.id,
                district_id=supporter.district_id,
            )
        )
    for addr in supporter.notification_addresses:
        if addr.is_enabled:
            deliveries.append(
                enqueue_delivery(
                    dedupe_key=f"{key}:supporter:{supporter.id}:addr:{addr.id}",
                    channel=DeliveryChannel.apprise,
                    address=addr.url,
                    subject=subject,
                    body=body,
                    topic=topic,
                    topic_id=topic_id,
                    supporter_id=supporter.id,
                    notification_address_id=addr.id,
                    district_id=supporter.district_id,
                )
            )
    return deliveries


def notify_staff(
    staff: StaffUser,
    *,
    key: str,
    subject: str,
    body: str,
    topic: str,
    topic_id: int | None = None,
    district_id: int | None = None,
) -> Delivery:
    """Queue an e-mail to a staff member."""
    return enqueue_delivery(
        dedupe_key=f"{key}:staff:{staff.id}:email",
        channel=DeliveryChannel.email,
        address=staff.email,
        subject=subject,
        body=body,
        topic=topic,
        topic_id=topic_id,
        staff_id=staff.id,
        district_id=district_id,
    )
