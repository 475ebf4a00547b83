"""Phone numbers as the SMS/voice gateway dials them (E.164), and which of them take an SMS."""

from __future__ import annotations

import pytest

from watchnet.core.phones import is_mobile_number, national_number, to_e164


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("090-1234-5678", "+819012345678"),
        ("０９０－１２３４－５６７８", "+819012345678"),  # typed on a Japanese keyboard
        ("080 1234 5678", "+818012345678"),
        ("070(1234)5678", "+817012345678"),
        ("+81 90 1234 5678", "+819012345678"),
        ("+81 (0)90-1234-5678", "+819012345678"),  # as on business cards
        ("0081-90-1234-5678", "+819012345678"),
        ("027-321-1234", "+81273211234"),  # a Takasaki landline
        ("0270-20-1234", "+81270201234"),
        ("050-1234-5678", "+815012345678"),  # IP phone
        ("+1 415 555 0100", "+14155550100"),
    ],
)
def test_numbers_are_normalised_to_e164(typed, e164):
    assert to_e164(typed) == e164


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "12345",
        "090-1234-567",
        "027-321-12345",
        "0120-123-456",
        "0800-123-4567",
        "0570-01-2345",
        "020-1234-5678",
        "110",
        "+81",
        "090-1234-5678 ext 2",
        "+0123456789",
    ],
)
def test_numbers_no_one_can_be_called_on_are_refused(typed):
    with pytest.raises(ValueError):
        to_e164(typed)


def test_only_japanese_mobiles_take_sms():
    assert is_mobile_number(to_e164("090-1234-5678"))
    assert is_mobile_number(to_e164("070-1234-5678"))
    assert not is_mobile_number(to_e164("027-321-1234"))
    assert not is_mobile_number(to_e164("050-1234-5678"))
    assert not is_mobile_number(to_e164("+1 415 555 0100"))


def test_numbers_are_shown_as_people_in_japan_write_them():
    assert national_number("+819012345678") == "090-1234-5678"
    assert national_number("+81273211234") == "0273211234"
    assert national_number("+14155550100") == "+14155550100"
