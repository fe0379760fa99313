"""Every exception the service raises, in one tree.

    ServiceError                    base of everything raised by ``service``
    ├── ConfigError                 invalid or missing configuration: the service refuses to start
    └── ApiError                    carries an HTTP status and a stable snake_case ``code``
        ├── InvalidJson             400 invalid_json
        ├── InvalidRequest          400 invalid_request (a field is missing or has the wrong type)
        ├── InvalidCredentials      401 invalid_credentials
        ├── InvalidToken            401 invalid_token
        │   └── TokenReused         401 token_reused (the whole session has been revoked)
        ├── NotFound                404 not_found
        ├── MethodNotAllowed        405 method_not_allowed
        ├── EmailTaken              409 email_taken
        ├── PayloadTooLarge         413 payload_too_large
        ├── UnsupportedMediaType    415 unsupported_media_type
        ├── InvalidEmail            422 invalid_email
        ├── WeakPassword            422 weak_password
        ├── PasswordTooLong         422 password_too_long
        ├── TooManyAttempts         429 too_many_attempts (with Retry-After)
        ├── TooManyRequests         429 too_many_requests (with Retry-After; signups per address)
        ├── HeaderTooLarge          431 header_too_large
        ├── InternalError           500 internal
        └── Unavailable             503 unavailable (Postgres or Redis did not answer)

Exceptions from jwt, asyncpg, redis and bcrypt are translated into this tree by the module
that calls those libraries (``raise Unavailable(...) from exc``) and never travel further.
"""

from __future__ import annotations

from collections.abc import Mapping


class ServiceError(Exception):
    """Base class of every exception raised by the service package."""


class ConfigError(ServiceError):
    """The configuration is invalid or incomplete; the message says what to set."""


class ApiError(ServiceError):
    """An error with a client-facing HTTP status and a stable ``code``."""

    status: int = 500
    code: str = "internal"
    default_message: str = "internal error"

    def __init__(self, message: str | None = None, *, headers: Mapping[str, str] | None = None):
        self.message = message or self.default_message
        self.headers: dict[str, str] = dict(headers or {})
        super().__init__(self.message)

    def body(self) -> dict[str, dict[str, str]]:
        """The JSON body the contract prescribes for this error."""
        return {"error": {"code": self.code, "message": self.message}}


class InvalidJson(ApiError):
    status = 400
    code = "invalid_json"
    default_message = "the request body must be a JSON object"


class InvalidRequest(ApiError):
    status = 400
    code = "invalid_request"
    default_message = "the request is not valid"


class InvalidCredentials(ApiError):
    status = 401
    code = "invalid_credentials"
    default_message = "invalid email or password"


class InvalidToken(ApiError):
    status = 401
    code = "invalid_token"
    default_message = "the token is invalid or expired"

    def __init__(self, message: str | None = None):
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class TokenReused(InvalidToken):
    code = "token_reused"
    default_message = "the refresh token was already used; the session has been revoked"

    #: The device (account key, device id) the revoked session was opened from, if known:
    #: whoever holds the session may hold its device token too.
    device: tuple[str, str] | None = None


class NotFound(ApiError):
    status = 404
    code = "not_found"
    default_message = "no such route"


class MethodNotAllowed(ApiError):
    status = 405
    code = "method_not_allowed"
    default_message = "method not allowed on this route"


class EmailTaken(ApiError):
    status = 409
    code = "email_taken"
    default_message = "an account with this email already exists"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"
    default_message = "the request body is too large"


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"
    default_message = "the request body must be sent as application/json"


class InvalidEmail(ApiError):
    status = 422
    code = "invalid_email"
    default_message = "the email address is not valid"


class WeakPassword(ApiError):
    status = 422
    code = "weak_password"
    default_message = "the password is too weak"


class PasswordTooLong(ApiError):
    status = 422
    code = "password_too_long"
    default_message = "the password is longer than 72 UTF-8 bytes"


class TooManyAttempts(ApiError):
    status = 429
    code = "too_many_attempts"
    default_message = "too many failed login attempts; try again later"

    def __init__(self, retry_after: int):
        self.retry_after = max(1, retry_after)
        super().__init__(headers={"Retry-After": str(self.retry_after)})


class TooManyRequests(ApiError):
    status = 429
    code = "too_many_requests"
    default_message = "too many requests from this address; try again later"

    def __init__(self, retry_after: int):
        self.retry_after = max(1, retry_after)
        super().__init__(headers={"Retry-After": str(self.retry_after)})


class HeaderTooLarge(ApiError):
    status = 431
    code = "header_too_large"
    default_message = "the request header is too large"


class InternalError(ApiError):
    status = 500
    code = "internal"
    default_message = "internal error"


class Unavailable(ApiError):
    status = 503
    code = "unavailable"
    default_message = "a backing store is unavailable; try again shortly"

    def __init__(self, message: str | None = None):
        super().__init__(message, headers={"Retry-After": "1"})
