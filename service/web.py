"""Request parsing and response building shared by the routes; errors as contract JSON."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from sanic import Request
from sanic.exceptions import MethodNotAllowed as SanicMethodNotAllowed
from sanic.exceptions import NotFound as SanicNotFound
from sanic.exceptions import PayloadTooLarge as SanicPayloadTooLarge
from sanic.exceptions import SanicException
from sanic.handlers import ErrorHandler
from sanic.response import HTTPResponse

from service.errors import (
    ApiError,
    HeaderTooLarge,
    InternalError,
    InvalidJson,
    InvalidRequest,
    InvalidToken,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)

log = logging.getLogger("authscale.service")

JSON = "application/json"


def json_response(
    payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> HTTPResponse:
    return HTTPResponse(
        orjson.dumps(payload),
        status=status,
        headers=dict(headers) if headers else None,
        content_type=JSON,
    )


def error_response(error: ApiError) -> HTTPResponse:
    return json_response(error.body(), status=error.status, headers=error.headers)


def is_json_media_type(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == JSON or (media.startswith("application/") and media.endswith("+json"))


def json_body(request: Request, *, max_bytes: int, required: bool = True) -> dict[str, Any]:
    """The request body as a JSON object.

    415 unless the content type is JSON, 413 over ``max_bytes``, 400 ``invalid_json`` when
    it does not parse or is not an object. An optional body may be empty.
    """
    body = request.body
    if not body and not required:
        return {}
    if not is_json_media_type(request.headers.get("content-type", "")):
        raise UnsupportedMediaType()
    if len(body) > max_bytes:
        raise PayloadTooLarge()
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidJson("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidJson("the request body must be a JSON object")
    return data


def string_field(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise InvalidRequest(f"the field {name!r} must be a string")
    return value


def bearer_token(request: Request) -> str:
    header: str | None = request.headers.get("authorization")
    if not header:
        raise InvalidToken("an Authorization: Bearer access token is required")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidToken("an Authorization: Bearer access token is required")
    return token


def as_api_error(exception: BaseException) -> ApiError:
    """The contract error for any exception; unexpected ones become 500 ``internal``."""
    if isinstance(exception, ApiError):
        return exception
    if isinstance(exception, SanicNotFound):
        return NotFound()
    if isinstance(exception, SanicMethodNotAllowed):
        return MethodNotAllowed(headers={"Allow": str(exception.headers.get("Allow", ""))})
    if isinstance(exception, SanicPayloadTooLarge):
        # Sanic raises the same exception for an oversized head as for a body; RFC 6585
        # gives the head its own status.
        if "header" in str(exception).lower():
            return HeaderTooLarge()
        return PayloadTooLarge()
    if isinstance(exception, SanicException) and 400 <= exception.status_code < 500:
        error = InvalidRequest(str(exception) or "the request is not valid")
        error.status = exception.status_code
        error.code = "invalid_request" if exception.status_code == 400 else _snake(exception)
        return error
    return InternalError()


def _snake(exception: BaseException) -> str:
    name = type(exception).__name__
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


class JsonErrorHandler(ErrorHandler):
    """Every error, including Sanic's own (404, 405, 413 …), as contract JSON."""

    def default(self, request: Request, exception: Exception) -> HTTPResponse:
        error = as_api_error(exception)
        if isinstance(error, InternalError):
            log.error(
                "unhandled error on %s %s",
                request.method,
                request.path,
                exc_info=(type(exception), exception, exception.__traceback__),
            )
        elif error.status >= 500:
            log.warning("%s on %s %s: %s", error.code, request.method, request.path, exception)
        return error_response(error)
