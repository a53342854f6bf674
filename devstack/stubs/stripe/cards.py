"""Stripe's test cards: what each number (or pm_card_* / tok_* token) does.

Behaviours: `ok` always pays; `decline`, `expired`, `incorrect_cvc`,
`processing_error` fail when set up and when charged; `insufficient_funds` and
`customer_fail` attach fine but every charge fails (the card for failed
renewals); `auth_always` asks for authentication on every on-session payment
and declines off-session ones; `auth_once` asks once, then a saved card pays
off-session. Any other number that passes the Luhn check pays, as Stripe's many
brand test numbers do.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from devstack.stubs.stripe.errors import StripeError


@dataclass(frozen=True)
class Card:
    number: str
    brand: str
    behaviour: str = "ok"
    funding: str = "credit"


CARDS = {c.number: c for c in (
    Card("4242424242424242", "visa"),
    Card("4000056655665556", "visa", funding="debit"),
    Card("5555555555554444", "mastercard"),
    Card("2223003122003222", "mastercard"),
    Card("5200828282828210", "mastercard", funding="debit"),
    Card("378282246310005", "amex"),
    Card("6011111111111117", "discover"),
    Card("4000000000000002", "visa", "decline"),
    Card("4000000000009995", "visa", "insufficient_funds"),
    Card("4000000000000069", "visa", "expired"),
    Card("4000000000000127", "visa", "incorrect_cvc"),
    Card("4000000000000119", "visa", "processing_error"),
    Card("4000000000000341", "visa", "customer_fail"),
    Card("4000002760003184", "visa", "auth_always"),
    Card("4000000000003220", "visa", "auth_always"),
    Card("4000002500003155", "visa", "auth_once"),
)}

# pm_card_<name> and tok_<name> stand for these numbers.
TOKENS = {
    "visa": "4242424242424242", "visa_debit": "4000056655665556", "mastercard": "5555555555554444", "amex": "378282246310005",
    "discover": "6011111111111117", "chargeDeclined": "4000000000000002",
    "chargeDeclinedInsufficientFunds": "4000000000009995", "chargeDeclinedExpiredCard": "4000000000000069",
    "chargeDeclinedIncorrectCvc": "4000000000000127", "chargeDeclinedProcessingError": "4000000000000119",
    "chargeCustomerFail": "4000000000000341", "authenticationRequired": "4000002760003184",
    "threeDSecure2Required": "4000000000003220", "authenticationRequiredOnSetup": "4000002500003155",
}

# behaviour -> (error code, decline_code, message)
FAILURES = {
    "decline": ("card_declined", "generic_decline", "Your card was declined."),
    "customer_fail": ("card_declined", "generic_decline", "Your card was declined."),
    "insufficient_funds": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "expired": ("expired_card", None, "Your card has expired."),
    "incorrect_cvc": ("incorrect_cvc", None, "Your card's security code is incorrect."),
    "processing_error": ("processing_error", None, "An error occurred while processing your card. Try again in a little bit."),
    "authentication_required": ("authentication_required", "authentication_required",
                                "Your card was declined. This transaction requires authentication."),
}
FAILS_SETUP = ("decline", "expired", "incorrect_cvc", "processing_error")


def luhn(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def brand_of(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in ("34", "37"):
        return "amex"
    if number[:2] in ("51", "52", "53", "54", "55") or "2221" <= number[:4] <= "2720":
        return "mastercard"
    if number.startswith(("6011", "65")):
        return "discover"
    return "unknown"


def lookup(number: str, param: str = "card[number]") -> Card:
    number = "".join(ch for ch in str(number) if ch.isdigit())
    if number in CARDS:
        return CARDS[number]
    if not 12 <= len(number) <= 19 or not luhn(number):
        raise StripeError(402, "card_error", "Your card number is incorrect.", code="incorrect_number", param=param)
    return Card(number, brand_of(number))


def token_number(name: str) -> str | None:
    """'pm_card_visa' / 'tok_visa' -> its test number, None for anything else."""
    for prefix in ("pm_card_", "tok_"):
        if name.startswith(prefix) and name[len(prefix):] in TOKENS:
            return TOKENS[name[len(prefix):]]
    return None


def card_details(card: Card, exp_month: int, exp_year: int, cvc_given: bool) -> dict:
    """The `card` hash of a PaymentMethod (no number: only last4 and a fingerprint)."""
    return {
        "brand": card.brand, "display_brand": card.brand, "country": "US", "funding": card.funding,
        "exp_month": exp_month, "exp_year": exp_year, "last4": card.number[-4:],
        "fingerprint": hashlib.sha256(card.number.encode()).hexdigest()[:16],
        "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass" if cvc_given else None},
        "generated_from": None, "networks": {"available": [card.brand], "preferred": None},
        "three_d_secure_usage": {"supported": True}, "wallet": None, "regulated_status": "unregulated",
    }


def failure(behaviour: str) -> tuple[str, str | None, str]:
    return FAILURES[behaviour]
