"""The lab's auth client: the loadgen's step names, and the answers read as the service
writes them (no sockets here; the chaos scenarios use it against a real service)."""

from __future__ import annotations

from lab.harness import authclient
from lab.harness.authclient import AuthAnswer, AuthRefused, error_code, tokens_in
from loadgen.scenario import Tokens
from loadgen.stats import STEPS


def test_the_steps_are_the_load_generators() -> None:
    steps = (authclient.SIGNUP, authclient.LOGIN, authclient.REFRESH, authclient.LOGOUT)
    assert steps == STEPS == ("signup", "login", "refresh", "logout")


def test_tokens_are_read_from_a_login_or_refresh_answer() -> None:
    assert tokens_in(b'{"access_token": "a", "refresh_token": "s.r"}') == Tokens("a", "s.r")
    assert tokens_in(b'{"access_token": "a"}') is None
    assert tokens_in(b"[]") is None
    assert tokens_in(b"<html>") is None


def test_an_answer_carries_its_error_code_and_retry_after() -> None:
    answer = AuthAnswer(503, b'{"error": {"code": "unavailable", "message": "x"}}', "1")
    assert answer.error_code() == "unavailable"
    assert answer.retry_after == "1"
    assert answer.tokens() is None
    assert error_code(b'{"error": "flat"}') == ""


def test_a_refusal_names_the_step_and_the_status() -> None:
    refused = AuthRefused("signup", 503)
    assert str(refused) == "signup answered 503"
    assert (refused.step, refused.status) == ("signup", 503)
