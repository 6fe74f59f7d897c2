"""storage/pii.py: what counts as a card number, an SSN, an email or a phone in a customer's words, and what
must not (policy and claim numbers, dates, amounts, platform ids in links)."""

from __future__ import annotations

import time

import pytest

from storage import pii

# published test numbers of the card schemes (they pass Luhn and charge nobody)
VALID_CARDS = [
    "4111111111111111",  # Visa, 16
    "4222222222222",  # Visa, 13
    "4012888888881881",
    "5555555555554444",  # Mastercard
    "2223003122003222",  # Mastercard 2-series
    "378282246310005",  # American Express, 15
    "6011111111111117",  # Discover
    "3530111333300000",  # JCB
    "30569309025904",  # Diners Club, 14
    "6304000000000000000",  # Maestro, 19
]


@pytest.mark.parametrize("number", VALID_CARDS)
def test_luhn_accepts_real_card_numbers(number: str) -> None:
    assert pii.luhn_valid(number)


@pytest.mark.parametrize("number", VALID_CARDS)
def test_luhn_refuses_any_single_digit_change(number: str) -> None:
    for position in range(len(number)):
        for digit in "0123456789":
            if digit != number[position]:
                changed = number[:position] + digit + number[position + 1 :]
                assert not pii.luhn_valid(changed), changed


def test_luhn_refuses_what_is_not_digits() -> None:
    assert not pii.luhn_valid("")
    assert not pii.luhn_valid("0")
    assert not pii.luhn_valid("4111 1111 1111 1111")
    assert not pii.luhn_valid("411111111111111a")
    assert pii.luhn_valid("79927398713") and not pii.luhn_valid("79927398710")  # the textbook example


@pytest.mark.parametrize(
    "text,masked",
    [
        ("my card 4111 1111 1111 1111 was charged twice", "my card [card ending 1111] was charged twice"),
        ("card 4111-1111-1111-1111 exp 12/27", "card [card ending 1111] exp 12/27"),
        ("4111111111111111", "[card ending 1111]"),
        ("amex 3782 822463 10005 please", "amex [card ending 0005] please"),
        ("4111 1111 1111 1111 123", "[card ending 1111] 123"),  # a CVV typed after it does not hide it
        ("two: 4111 1111 1111 1111 5555 5555 5555 4444", "two: [card ending 1111] [card ending 4444]"),
        ("diners 3056 930902 5904.", "diners [card ending 5904]."),
        ("SSN 123-45-6789", "SSN [SSN]"),
        ("it's 123 45 6789", "it's [SSN]"),
        ("my social security number is 123456789", "my social security number is [SSN]"),
        ("ssn: 078051120", "ssn: [SSN]"),
        ("write to John.Doe+claims@mail.example.co.uk.", "write to [email]."),
        ("a_b@x-y.io, c@d.com", "[email], [email]"),
        ("call +1 (555) 000-1111", "call [phone]"),
        ("or 555.000.2222 or 555-000-3333", "or [phone] or [phone]"),
        ("whatsapp 15550001111", "whatsapp [phone]"),
        ("uk +44 7911 123456", "uk [phone]"),
    ],
)
def test_masks(text: str, masked: str) -> None:
    assert pii.mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "policy PX-88123, claim CL-204117",
        "on 2024-03-01 at 10:30 for $1,250.00",
        "4111 1111 1111 1112",  # fails Luhn: not a card (and 16 digits: not a phone)
        "000-12-3456 666-12-3456 912-45-6789 123-00-6789 123-45-0000",  # never-issued SSNs
        "my telegram id is 123456789",  # 9 digits without SSN context
        "ext 5550",
        "https://scontent.xx.fbcdn.net/v/t1.15752-9/123456789012345_n.jpg",
        "a@b x@y.z mail@localhost @handle",
        "",
        "no digits here at all",
    ],
)
def test_leaves_alone(text: str) -> None:
    assert pii.mask(text) == text and pii.kinds(text) == []


def test_kinds_and_json_values() -> None:
    assert pii.kinds("4111111111111111 or x@y.com, 555-000-1111, 123-45-6789") == ["card", "ssn", "email", "phone"]
    payload = {
        "button": {"title": "Email me at x@y.com", "payload": "/affirm"},
        "attachments": [{"type": "image", "media_id": "15550001111", "url": "https://cdn.example/5550001111.jpg"}],
        "original_text": "card 4111111111111111",
    }
    assert pii.mask_value(payload) == {
        "button": {"title": "Email me at [email]", "payload": "/affirm"},
        "attachments": [{"type": "image", "media_id": "15550001111", "url": "https://cdn.example/5550001111.jpg"}],
        "original_text": "card [card ending 1111]",
    }
    assert pii.value_kinds(payload) == ["card", "email"]
    assert pii.mask(None) is None and pii.mask_value(None) is None


@pytest.mark.parametrize(
    "hostile",
    [
        "1 " * 500_000,
        "4111 " * 200_000,
        "a@" * 500_000,
        "a" * 1_000_000 + "@",
        "a-" * 500_000 + "@x.io",
        "9" * 1_000_000,
    ],
    ids=["spaced digits", "card-ish groups", "at signs", "long local part", "hyphens", "one long number"],
)
def test_a_megabyte_of_hostile_text_is_masked_in_linear_time(hostile: str) -> None:
    """Customers write the text: no pattern may backtrack its way into seconds per message."""
    started = time.perf_counter()
    pii.mask(hostile)
    assert time.perf_counter() - started < 5.0
