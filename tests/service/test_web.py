"""Request parsing and error mapping, without sockets."""

from __future__ import annotations

import pytest
from sanic.exceptions import BadRequest, MethodNotAllowed, NotFound, PayloadTooLarge, RequestTimeout

from service.errors import ApiError, EmailTaken, TooManyAttempts, Unavailable
from service.web import as_api_error, error_response, is_json_media_type


@pytest.mark.parametrize(
    ("exception", "status", "code"),
    [
        (NotFound("x"), 404, "not_found"),
        (MethodNotAllowed("x", "PUT", ["GET"]), 405, "method_not_allowed"),
        (PayloadTooLarge("x"), 413, "payload_too_large"),
        (BadRequest("x"), 400, "invalid_request"),
        (RequestTimeout("x"), 408, "request_timeout"),
        (EmailTaken(), 409, "email_taken"),
        (Unavailable(), 503, "unavailable"),
        (RuntimeError("boom"), 500, "internal"),
        (KeyError("k"), 500, "internal"),
    ],
)
def test_every_exception_maps_to_a_contract_error(
    exception: Exception, status: int, code: str
) -> None:
    error = as_api_error(exception)
    assert isinstance(error, ApiError)
    assert (error.status, error.code) == (status, code)
    assert error.body() == {"error": {"code": code, "message": error.message}}


def test_internal_errors_do_not_leak_their_message() -> None:
    error = as_api_error(RuntimeError("secret detail from a stack frame"))
    assert "secret detail" not in error.message


def test_405_carries_allow() -> None:
    error = as_api_error(MethodNotAllowed("x", "PUT", ["GET", "HEAD"]))
    assert error.headers["Allow"] == "GET, HEAD"


def test_error_response_is_json_with_headers() -> None:
    response = error_response(TooManyAttempts(retry_after=7))
    assert response.status == 429
    assert response.content_type == "application/json"
    assert response.headers["Retry-After"] == "7"
    assert response.body == b'{"error":{"code":"too_many_attempts","message":' + (
        b'"too many failed login attempts; try again later"}}'
    )


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/merge-patch+json", True),
        ("", False),
        ("text/json", False),
        ("text/plain", False),
        ("application/jsonx", False),
        ("multipart/form-data; boundary=x", False),
    ],
)
def test_json_media_types(content_type: str, accepted: bool) -> None:
    assert is_json_media_type(content_type) is accepted
