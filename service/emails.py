"""Email addresses: syntax checked by email-validator, compared in a canonical form.

The canonical form folds the local part with NFKC + casefold (``Ada`` = ``ada``) and
normalises the domain with UTS-46 non-transitional processing (IDNA2008), written as its
ASCII (A-label) form: ``ß.test`` and ``ss.test`` are different domains, as in DNS, where
casefolding would have merged them; ``Straße.test`` and ``xn--strae-oqa.test`` are one.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import idna
from email_validator import EmailNotValidError, validate_email

from service.errors import InvalidEmail


@dataclass(frozen=True, slots=True)
class Email:
    """An address as shown back to its owner, and the form used to compare addresses."""

    display: str
    canonical: str


def canonical_form(text: str) -> str:
    """NFKC + casefold: the form two spellings of a local part (or a password) share."""
    return unicodedata.normalize("NFKC", text).casefold()


def canonical_domain(domain: str) -> str:
    """The A-label form of ``domain`` after UTS-46 non-transitional processing.

    :class:`InvalidEmail` when IDNA2008 refuses the domain.
    """
    try:
        return idna.encode(domain, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidEmail(f"the email domain is not valid: {exc}") from exc


def canonical_address(address: str) -> str:
    """The canonical form of a syntactically valid ``local@domain``."""
    local, _, domain = address.rpartition("@")
    return f"{canonical_form(local)}@{canonical_domain(domain)}"


def parse_email(raw: str) -> Email:
    """Validate ``raw`` (syntax only, no DNS) or raise :class:`InvalidEmail`."""
    try:
        # test_environment admits the reserved "test" domain that load generators use;
        # deliverability (DNS) is never checked on the request path.
        valid = validate_email(raw, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise InvalidEmail(f"the email address is not valid: {exc}") from exc
    return Email(display=valid.normalized, canonical=canonical_address(valid.normalized))
