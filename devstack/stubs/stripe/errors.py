"""Stripe's error shapes: {"error": {type, code, decline_code, param, message, doc_url}} with its HTTP status."""
from __future__ import annotations

DOCS = "https://stripe.com/docs/error-codes/"


class StripeError(Exception):
    def __init__(self, status: int, type_: str, message: str, code: str | None = None, param: str | None = None,
                 decline_code: str | None = None, commit: bool | None = None, **extra):
        super().__init__(message)
        self.status, self.type, self.message = status, type_, message
        # A declined card still happened: its charge, intent and events are kept (402), unless the call says otherwise.
        self.commit = status == 402 if commit is None else commit
        self.code, self.param, self.decline_code, self.extra = code, param, decline_code, extra

    def body(self) -> dict:
        error = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = DOCS + self.code.replace("_", "-")
        if self.param is not None:
            error["param"] = self.param
        if self.decline_code:
            error["decline_code"] = self.decline_code
        error.update(self.extra)
        return {"error": error}


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    return StripeError(400, "invalid_request_error", message, code=code, param=param)


def missing_param(param: str) -> StripeError:
    return invalid(f"Missing required param: {param}.", param, "parameter_missing")


def no_such(kind: str, id_: str, param: str = "id") -> StripeError:
    """404 for an id that does not exist (`kind` in Stripe's words: customer, price, payment_intent...)."""
    return StripeError(404, "invalid_request_error", f"No such {kind}: '{id_}'", code="resource_missing", param=param)


def unexpected_state(message: str, code: str = "payment_intent_unexpected_state", param: str | None = None, **extra) -> StripeError:
    return StripeError(400, "invalid_request_error", message, code=code, param=param, **extra)


def unknown_route(method: str, path: str) -> StripeError:
    return StripeError(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}). "
                       "devstack's Stripe emulator does not implement this endpoint; see docs/stripe.md for what it covers.")


def auth_missing() -> StripeError:
    return StripeError(401, "invalid_request_error",
                       "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth "
                       "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details.")


def auth_invalid(key: str) -> StripeError:
    return StripeError(401, "invalid_request_error", f"Invalid API Key provided: {mask(key)}")


def publishable_not_allowed() -> StripeError:
    return StripeError(401, "invalid_request_error", "This API call cannot be made with a publishable API key. Please use a secret API key.")


def mask(key: str) -> str:
    """sk_test_****...abcd: the prefix and the last four characters, as Stripe shows them."""
    prefix = key[:8] if key.startswith(("sk_", "pk_", "rk_")) else ""
    shown = key[-4:] if len(key) > len(prefix) + 4 else ""
    return prefix + "*" * max(len(key) - len(prefix) - len(shown), 0) + shown
