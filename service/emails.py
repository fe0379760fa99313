"""Email addresses: syntax checked by email-validator, compared in NFKC + casefold form."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from service.errors import InvalidEmail


@dataclass(frozen=True, slots=True)
class Email:
    """An address as shown back to its owner, and the form used to compare addresses."""

    display: str
    canonical: str


def canonical_form(text: str) -> str:
    """NFKC + casefold: the form two spellings of one address share."""
    return unicodedata.normalize("NFKC", text).casefold()


def parse_email(raw: str) -> Email:
    """Validate ``raw`` (syntax only, no DNS) or raise :class:`InvalidEmail`."""
    try:
        # test_environment admits the reserved "test" domain that load generators use;
        # deliverability (DNS) is never checked on the request path.
        valid = validate_email(raw, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise InvalidEmail(f"the email address is not valid: {exc}") from exc
    return Email(display=valid.normalized, canonical=canonical_form(valid.normalized))
