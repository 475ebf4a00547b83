"""The CAP 1.2 export checked against the specification: the OASIS schema, and explicitly the
element order, the required elements and the enumerated values, for an active alert, an
update (revision 2), an exercise and a cancelled (closed) alert."""

from __future__ import annotations

import re
from typing import Any

import pytest
import xmlschema
from alert_exports_support import (
    NS,
    SECRET_FAMILY,
    SECRET_FAMILY_PHONE,
    SECRET_HANDLING,
    SECRET_HOME,
    SECRET_KANA,
    SECRET_NAME,
    XSD,
    child_names,
    close,
    make_alert,
    make_person,
    parse,
    revise,
    text,
)

from watchnet.alerts.exports.cap import build_cap, cap_circle, cap_time
from watchnet.alerts.models import AlertStatus

SENDER = "watchnet@city.example.jp"

# CAP 1.2 section 3.2 (Document Object Model) and the schema's sequences, in order.
ALERT_SEQUENCE = [
    "identifier",
    "sender",
    "sent",
    "status",
    "msgType",
    "source",
    "scope",
    "restriction",
    "addresses",
    "code",
    "note",
    "references",
    "incidents",
    "info",
]
ALERT_REQUIRED = ["identifier", "sender", "sent", "status", "msgType", "scope"]
INFO_SEQUENCE = [
    "language",
    "category",
    "event",
    "responseType",
    "urgency",
    "severity",
    "certainty",
    "audience",
    "eventCode",
    "effective",
    "onset",
    "expires",
    "senderName",
    "headline",
    "description",
    "instruction",
    "web",
    "contact",
    "parameter",
    "resource",
    "area",
]
INFO_REQUIRED = ["category", "event", "urgency", "severity", "certainty"]
AREA_SEQUENCE = ["areaDesc", "polygon", "circle", "geocode", "altitude", "ceiling"]
ENUMS = {
    "status": {"Actual", "Exercise", "System", "Test", "Draft"},
    "msgType": {"Alert", "Update", "Cancel", "Ack", "Error"},
    "scope": {"Public", "Restricted", "Private"},
    "category": {
        "Geo",
        "Met",
        "Safety",
        "Security",
        "Rescue",
        "Fire",
        "Health",
        "Env",
        "Transport",
        "Infra",
        "CBRNE",
        "Other",
    },
    "responseType": {
        "Shelter",
        "Evacuate",
        "Prepare",
        "Execute",
        "Avoid",
        "Monitor",
        "Assess",
        "AllClear",
        "None",
    },
    "urgency": {"Immediate", "Expected", "Future", "Past", "Unknown"},
    "severity": {"Extreme", "Severe", "Moderate", "Minor", "Unknown"},
    "certainty": {"Observed", "Likely", "Possible", "Unlikely", "Unknown"},
}
# CAP 1.2 section 3.3.2: dateTime with an explicit offset, no fractional seconds.
CAP_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d")
# Section 3.2.4: circle = "lat,lon radius" (WGS 84, radius in km).
CAP_CIRCLE = re.compile(r"(-?\d+(\.\d+)?),(-?\d+(\.\d+)?) (\d+(\.\d+)?)")
# Section 3.2.1: identifier and sender contain no spaces, commas or < and &.
NO_RESTRICTED = re.compile(r"[^\s,<&]+")


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


def _kinds(district: Any) -> dict[str, bytes]:
    """One message of each kind the export produces."""
    active = make_alert(district, make_person(district))
    updated = make_alert(district, client_key="updated")
    revise(updated, 30, radius_m=1600.0)
    exercise = make_alert(district, is_exercise=True, client_key="exercise")
    found = make_alert(district, client_key="found")
    revise(found, 30, radius_m=1600.0)
    close(found, AlertStatus.found)
    cancelled = make_alert(district, is_exercise=True, client_key="cancelled")
    close(cancelled, AlertStatus.cancelled)
    return {
        name: build_cap(alert, sender=SENDER)
        for name, alert in [
            ("active", active),
            ("updated", updated),
            ("exercise", exercise),
            ("found", found),
            ("cancelled", cancelled),
        ]
    }


def _in_sequence(names: list[str], sequence: list[str]) -> bool:
    """Each name is in the sequence and never goes back to an earlier one."""
    positions = [sequence.index(n) for n in names]
    return positions == sorted(positions)


def test_every_kind_of_message_is_valid_against_the_cap_1_2_schema(district, schema):
    for name, body in _kinds(district).items():
        errors = list(schema.iter_errors(body.decode("utf-8")))
        assert errors == [], f"{name}: {errors[0] if errors else ''}"


def test_the_schema_catches_what_the_tests_rely_on(district, schema):
    # A test that could not fail proves nothing: break the message three ways.
    body = build_cap(make_alert(district), sender=SENDER).decode("utf-8")
    assert schema.is_valid(body)
    swapped = re.sub(r"(<status>.*?</status>)(\s*)(<msgType>.*?</msgType>)", r"\3\2\1", body)
    assert swapped != body and not schema.is_valid(swapped)
    assert not schema.is_valid(body.replace("<urgency>Immediate<", "<urgency>Now<"))
    assert not schema.is_valid(re.sub(r"(<sent>[^<]*)\+09:00<", r"\1.5+09:00<", body))


def test_elements_come_in_the_specifications_order_with_every_required_one(district):
    for name, body in _kinds(district).items():
        root = parse(body)
        assert root.tag == "{urn:oasis:names:tc:emergency:cap:1.2}alert"
        names = child_names(root)
        assert _in_sequence(names, ALERT_SEQUENCE), (name, names)
        assert all(names.count(n) == 1 for n in names if n not in ("code", "info")), names
        assert set(ALERT_REQUIRED) <= set(names), (name, names)
        infos = root.findall("cap:info", NS)
        assert len(infos) == 1
        info_names = child_names(infos[0])
        assert _in_sequence(info_names, INFO_SEQUENCE), (name, info_names)
        assert set(INFO_REQUIRED) <= set(info_names), (name, info_names)
        area = infos[0].find("cap:area", NS)
        assert area is not None
        assert _in_sequence(child_names(area), AREA_SEQUENCE)
        assert child_names(area)[0] == "areaDesc"
        # Restricted scope needs its <restriction> (section 3.2.1).
        assert text(root, "cap:scope") == "Restricted"
        assert text(root, "cap:restriction").strip()


def test_enumerated_values_are_the_specifications(district):
    for name, body in _kinds(district).items():
        root = parse(body)
        for element in root.iter():
            local = element.tag.rpartition("}")[2]
            if local in ENUMS:
                assert element.text in ENUMS[local], (name, local, element.text)


def test_an_active_alert_is_an_actual_alert_message(district):
    alert = make_alert(district)
    root = parse(build_cap(alert, sender=SENDER))
    assert text(root, "cap:identifier") == f"watchnet-city.example.jp-alert-{alert.id}-1"
    assert NO_RESTRICTED.fullmatch(text(root, "cap:identifier"))
    assert text(root, "cap:sender") == SENDER
    # Started 00:30:15.123456 UTC: Japan time, no fraction.
    assert text(root, "cap:sent") == "2026-03-13T09:30:15+09:00"
    assert CAP_DATETIME.fullmatch(text(root, "cap:sent"))
    assert text(root, "cap:status") == "Actual"
    assert text(root, "cap:msgType") == "Alert"
    assert root.find("cap:references", NS) is None
    assert root.find("cap:note", NS) is None
    info = "cap:info/cap:"
    assert text(root, info + "language") == "ja-JP"
    assert text(root, info + "category") == "Rescue"
    assert text(root, info + "event") == "行方不明者の捜索"
    assert text(root, info + "responseType") == "Monitor"
    assert text(root, info + "urgency") == "Immediate"
    assert text(root, info + "severity") == "Severe"
    assert text(root, info + "certainty") == "Observed"
    assert "八幡地区" in text(root, info + "senderName")
    assert text(root, info + "headline") == "行方不明の方をさがしています（82歳・女性）"
    assert text(root, info + "contact") == "八幡あんしんセンター 027-123-4567"
    circle = text(root, info + "area/cap:circle")
    assert circle == "36.333500,138.945500 1.200"
    assert CAP_CIRCLE.fullmatch(circle)
    assert "八幡公民館の前" in text(root, info + "area/cap:areaDesc")


def test_the_description_is_what_a_finder_needs_and_nothing_that_identifies_the_person(district):
    alert = make_alert(district, make_person(district))
    body = build_cap(alert, sender=SENDER).decode("utf-8")
    root = parse(body.encode())
    description = text(root, "cap:info/cap:description")
    for fact in (
        "年齢: 82歳",
        "性別: 女性",
        "身長: 約148cm",
        "体格: やせ型",
        "髪: 白髪のショート",
        "右手に杖",
        "紺のカーディガン",
        "茶色の手提げ袋",
        "八幡公民館の前",
        "09:10",
    ):
        assert fact in description, fact
    instruction = text(root, "cap:info/cap:instruction")
    assert "追いかけないでください" in instruction
    assert "正面からゆっくり" in instruction
    assert "027-123-4567" in instruction
    for secret in (
        SECRET_NAME,
        SECRET_KANA,
        SECRET_HOME,
        SECRET_FAMILY,
        SECRET_FAMILY_PHONE,
        SECRET_HANDLING,
        "トメ",
        "R8-0313-01",
    ):
        assert secret not in body, secret


def test_a_widened_alert_is_an_update_referencing_the_first_message(district):
    alert = make_alert(district)
    first = parse(build_cap(alert, sender=SENDER))
    revise(alert, 30, radius_m=1600.0)
    second = parse(build_cap(alert, sender=SENDER))
    assert text(second, "cap:msgType") == "Update"
    assert text(second, "cap:identifier") == f"watchnet-city.example.jp-alert-{alert.id}-2"
    assert text(second, "cap:sent") == "2026-03-13T10:00:15+09:00"
    # "sender,identifier,sent" of the earlier message, exactly as it was sent.
    earlier = ",".join(text(first, f"cap:{n}") for n in ("sender", "identifier", "sent"))
    assert text(second, "cap:references") == earlier
    assert text(second, "cap:incidents") == text(first, "cap:incidents")
    assert text(second, "cap:info/cap:area/cap:circle").endswith(" 1.600")

    revise(alert, 90, radius_m=5000.0)
    third = parse(build_cap(alert, sender=SENDER))
    refs = text(third, "cap:references").split(" ")
    assert refs == [
        earlier,
        ",".join(text(second, f"cap:{n}") for n in ("sender", "identifier", "sent")),
    ]
    # The same revision exported again is the same message (same identifier and time).
    assert build_cap(alert, sender=SENDER) == build_cap(alert, sender=SENDER)


def test_the_coordinators_override_is_the_circle(district):
    alert = make_alert(district, radius_override_m=2500.0)
    circle = text(parse(build_cap(alert, sender=SENDER)), "cap:info/cap:area/cap:circle")
    assert circle == cap_circle(36.3335, 138.9455, 2500.0) == "36.333500,138.945500 2.500"


def test_an_exercise_says_so_in_status_event_headline_and_note(district):
    alert = make_alert(district, is_exercise=True)
    root = parse(build_cap(alert, sender=SENDER))
    assert text(root, "cap:status") == "Exercise"
    assert text(root, "cap:msgType") == "Alert"
    assert "訓練" in text(root, "cap:note")
    assert "訓練" in text(root, "cap:info/cap:event")
    assert text(root, "cap:info/cap:headline").startswith("【訓練】")


@pytest.mark.parametrize(
    "outcome, headline",
    [
        (AlertStatus.found, "発見されました"),
        (AlertStatus.cancelled, "捜索を終了しました"),
    ],
)
def test_a_closed_alert_is_a_cancel_without_any_personal_description(district, outcome, headline):
    alert = make_alert(district, make_person(district))
    first = parse(build_cap(alert, sender=SENDER))
    revise(alert, 30, radius_m=1600.0)
    second = parse(build_cap(alert, sender=SENDER))
    close(alert, outcome)
    body = build_cap(alert, sender=SENDER).decode("utf-8")
    root = parse(body.encode())
    assert text(root, "cap:msgType") == "Cancel"
    assert text(root, "cap:status") == "Actual"
    assert text(root, "cap:identifier") == f"watchnet-city.example.jp-alert-{alert.id}-cancel"
    assert text(root, "cap:sent") == cap_time(alert.closed_at) == "2026-03-13T11:05:15+09:00"
    refs = text(root, "cap:references").split(" ")
    assert refs == [
        ",".join(text(m, f"cap:{n}") for n in ("sender", "identifier", "sent"))
        for m in (first, second)
    ]
    assert text(root, "cap:info/cap:responseType") == "AllClear"
    assert text(root, "cap:info/cap:urgency") == "Past"
    assert headline in text(root, "cap:info/cap:headline")
    assert root.find("cap:info/cap:contact", NS) is None
    for detail in (
        "82歳",
        "女性",
        "148",
        "やせ型",
        "白髪",
        "杖",
        "カーディガン",
        "手提げ",
        "八幡公民館の前",
        "027-123-4567",
        "八幡あんしんセンター",
        SECRET_NAME,
        SECRET_HOME,
        SECRET_FAMILY,
        "高崎駅",
    ):
        assert detail not in body, detail


def test_cap_times_use_the_offset_and_never_z(app):
    from datetime import UTC, datetime

    assert (
        cap_time(datetime(2026, 1, 1, 15, 0, 0, 999999, tzinfo=UTC)) == "2026-01-02T00:00:00+09:00"
    )
    app.config["DISPLAY_TIMEZONE"] = "UTC"
    try:
        assert cap_time(datetime(2026, 1, 1, 15, 0, tzinfo=UTC)) == "2026-01-01T15:00:00-00:00"
    finally:
        app.config["DISPLAY_TIMEZONE"] = "Asia/Tokyo"
