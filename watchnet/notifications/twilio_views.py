"""What the SMS/voice gateway calls back: the keys pressed in a call, and delivery reports.

Every request must carry a valid `X-Twilio-Signature`: base64 HMAC-SHA1, keyed with the
account's auth token, of the URL the gateway called and the form parameters (checked with the
twilio package's RequestValidator). The URL is the public one (PUBLIC_BASE_URL + the path), as
the gateway saw it, not the one a reverse proxy passed on. Anything unsigned or wrongly signed
is refused with 403 before it is read, and changes nothing. These posts come from the gateway,
not from a browser with a session, so they are exempt from CSRF tokens; the signature is
what proves where they come from.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, request
from flask.typing import ResponseReturnValue
from twilio.request_validator import RequestValidator

from watchnet.core.config import twilio_configured
from watchnet.core.extensions import csrf, db
from watchnet.notifications.hooks import Answer
from watchnet.notifications.models import Delivery, DeliveryChannel
from watchnet.notifications.services import record_answer, record_delivered, record_undelivered
from watchnet.notifications.transports import voice
from watchnet.notifications.transports.twilio_api import STATUS_PATH, VOICE_PATH

bp = Blueprint("twilio_hooks", __name__)
csrf.exempt(bp)

# What a status callback reports, and how it is recorded.
DELIVERED = frozenset({"delivered", "completed"})  # an SMS delivered; a call answered and ended
NOT_DELIVERED = {
    "undelivered": "the SMS was not delivered",
    "failed": "the gateway could not send it",
    "busy": "the line was busy",
    "no-answer": "nobody answered the call",
    "canceled": "the call was cancelled",
}
# Carrier error codes of an undelivered SMS that say the number cannot take SMS at all.
NUMBER_GONE_ERRORS = {"30005": "unknown number", "30006": "a landline or an unreachable carrier"}


def _signed() -> bool:
    config = current_app.config
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not twilio_configured(config):
        return False
    url = str(config["PUBLIC_BASE_URL"]).rstrip("/") + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    return bool(
        RequestValidator(str(config["TWILIO_AUTH_TOKEN"])).validate(url, request.form, signature)
    )


def _twiml(xml: str) -> Response:
    return Response(xml, mimetype="text/xml")


@bp.post(VOICE_PATH.replace("{delivery_id}", "<int:delivery_id>"))
def voice_answer(delivery_id: int) -> ResponseReturnValue:
    """A key pressed in a call: 1 = I'll search, 2 = I can't now (the same as a tap on the
    page); any other key hears the question again."""
    if not _signed():
        abort(403)
    voice_name = str(current_app.config.get("TWILIO_VOICE") or "")
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None or delivery.channel != DeliveryChannel.voice or not delivery.answer_topic:
        return _twiml(voice.ended_twiml(voice_name))
    answer = voice.KEYS.get(request.form.get("Digits", ""))
    if answer is None:
        action = str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/") + request.path
        headline = delivery.summary or delivery.subject
        return _twiml(voice.question_again_twiml(headline, action=action, voice=voice_name))
    recorded = record_answer(delivery, Answer(answer))
    db.session.commit()
    if not recorded:
        return _twiml(voice.not_taken_twiml(voice_name))
    return _twiml(voice.thanks_twiml(answer, voice_name))


@bp.post(STATUS_PATH)
def delivery_status() -> ResponseReturnValue:
    """A delivery report: an SMS delivered or not, a call answered, busy or unanswered."""
    if not _signed():
        abort(403)
    form = request.form
    sid = form.get("MessageSid") or form.get("CallSid") or ""
    status = (form.get("MessageStatus") or form.get("CallStatus") or "").lower()
    if status in DELIVERED:
        record_delivered(sid)
    elif status in NOT_DELIVERED:
        code = form.get("ErrorCode", "")
        reason = NOT_DELIVERED[status]
        if code:
            reason += f" (error {code}" + (
                f": {NUMBER_GONE_ERRORS[code]})" if code in NUMBER_GONE_ERRORS else ")"
            )
        record_undelivered(sid, reason, gone=code in NUMBER_GONE_ERRORS)
    # queued, sending, sent, ringing, in-progress: on the way; nothing to record yet.
    db.session.commit()
    return Response(status=204)
