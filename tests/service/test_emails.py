"""Email validation and the canonical form, without sockets."""

from __future__ import annotations

import pytest

from service.emails import canonical_form, parse_email
from service.errors import InvalidEmail


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("User@Example.COM", "user@example.com"),
        ("straße@example.com", "strasse@example.com"),  # the local part: casefold, not lower()
        ("ｕｓｅｒ@example.com", "user@example.com"),  # fullwidth → NFKC
        ("ﬁle@example.com", "file@example.com"),  # ligature → NFKC
        ("lg-1-2-3@example.com", "lg-1-2-3@example.com"),
    ],
)
def test_canonical_form(raw: str, canonical: str) -> None:
    assert parse_email(raw).canonical == canonical


def test_display_form_keeps_the_local_part_as_typed() -> None:
    email = parse_email("First.Last@Example.COM")
    assert email.display == "First.Last@example.com"
    assert email.canonical == "first.last@example.com"


def test_spellings_of_one_address_share_a_canonical_form() -> None:
    spellings = ["ANNA@EXAMPLE.COM", "anna@example.com", "Ａｎｎａ@example.com"]
    assert len({parse_email(s).canonical for s in spellings}) == 1


def test_load_generator_domains_are_accepted() -> None:
    assert parse_email("vu-1@loadgen.test").canonical == "vu-1@loadgen.test"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "plain",
        "@example.com",
        "a@",
        "a@@example.com",
        "a b@example.com",
        "nul\x00@example.com",
        "a@localhost",
        "a@example..com",
        "x" * 250 + "@example.com",
        "a@" + "d" * 250 + ".com",
    ],
)
def test_invalid_addresses_are_refused(raw: str) -> None:
    with pytest.raises(InvalidEmail):
        parse_email(raw)


def test_canonical_form_is_idempotent() -> None:
    once = canonical_form("ＳＴＲＡßＥ")
    assert canonical_form(once) == once == "strasse"


def test_domains_follow_idna2008_not_casefolding() -> None:
    """UTS-46 non-transitional: ß is a letter of its own in a domain, as in DNS."""
    assert parse_email("a@ß.test").canonical != parse_email("a@ss.test").canonical
    assert parse_email("a@ß.test").canonical == "a@xn--zca.test"
    assert parse_email("a@ς.test").canonical != parse_email("a@σ.test").canonical


@pytest.mark.parametrize(
    "spelling",
    ["ada@Straße.test", "ada@STRASSE.test".replace("SS", "ß"), "ada@xn--strae-oqa.test"],
)
def test_spellings_of_one_international_domain_share_a_canonical_form(spelling: str) -> None:
    assert parse_email(spelling).canonical == "ada@xn--strae-oqa.test"


def test_the_local_part_is_still_folded() -> None:
    assert parse_email("STRASSE@ß.test").canonical == parse_email("straße@ß.test").canonical
