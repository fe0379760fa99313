"""The OpenAPI 3.0 description of the service contract, served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

ERROR_CODES = [
    "invalid_json",
    "invalid_request",
    "invalid_credentials",
    "invalid_token",
    "token_reused",
    "not_found",
    "method_not_allowed",
    "email_taken",
    "payload_too_large",
    "unsupported_media_type",
    "invalid_email",
    "weak_password",
    "password_too_long",
    "too_many_attempts",
    "too_many_requests",
    "header_too_large",
    "internal",
    "unavailable",
]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json(_ref("Error"))}


def _body(schema_name: str, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": _json(_ref(schema_name))}


COMMON_ERRORS = {
    "400": _error("invalid_json or invalid_request"),
    "413": _error("payload_too_large (body over 16 KiB)"),
    "415": _error("unsupported_media_type"),
    "431": _error("header_too_large (a request header over the limit)"),
    "503": _error("unavailable: Postgres or Redis does not answer"),
}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def _string(**extra: Any) -> dict[str, Any]:
    return {"type": "string", **extra}


def openapi_document(*, server_url: str | None = None) -> dict[str, Any]:
    credentials = {
        "type": "object",
        "required": ["email", "password"],
        "properties": {
            "email": _string(format="email"),
            "password": _string(),
            # Returned by an earlier login; anything else sent here counts as none.
            "device_token": _string(),
        },
    }
    # Length limits are stated; the common-password and equal-to-email rules cannot be.
    new_credentials = {
        "type": "object",
        "required": ["email", "password"],
        "properties": {
            "email": _string(format="email", maxLength=254),
            "password": _string(minLength=8, maxLength=72),
        },
    }
    tokens: dict[str, Any] = {
        "type": "object",
        "required": ["access_token", "refresh_token", "token_type", "expires_in", "device_token"],
        "properties": {
            "access_token": _string(),
            "refresh_token": _string(),
            "token_type": {"type": "string", "enum": ["Bearer"]},
            "expires_in": {"type": "integer", "minimum": 1},
            "device_token": _string(),
        },
    }
    user = {
        "type": "object",
        "required": ["id", "email"],
        "properties": {"id": _string(format="uuid"), "email": _string()},
    }
    error = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": ERROR_CODES},
                    "message": _string(),
                },
            }
        },
    }
    status = {
        "type": "object",
        "required": ["status"],
        "properties": {"status": _string()},
    }
    paths: dict[str, Any] = {
        "/auth/signup": {
            "post": {
                "operationId": "signup",
                "requestBody": _body("NewCredentials"),
                "responses": {
                    "201": {"description": "created", "content": _json(_ref("User"))},
                    "409": _error("email_taken"),
                    "422": _error("invalid_email, weak_password or password_too_long"),
                    "429": _error("too_many_requests: signups from this address (Retry-After)"),
                    **COMMON_ERRORS,
                },
            }
        },
        "/auth/login": {
            "post": {
                "operationId": "login",
                "requestBody": _body("Credentials"),
                "responses": {
                    "200": {"description": "logged in", "content": _json(_ref("Tokens"))},
                    "401": _error("invalid_credentials"),
                    "429": _error("too_many_attempts (see Retry-After)"),
                    **COMMON_ERRORS,
                },
            }
        },
        "/auth/refresh": {
            "post": {
                "operationId": "refresh",
                "requestBody": _body("RefreshRequest"),
                "responses": {
                    "200": {
                        "description": "rotated; device_token is null when the device the "
                        "session was opened from has been revoked since",
                        "content": _json(_ref("RefreshedTokens")),
                    },
                    "401": _error("invalid_token or token_reused"),
                    **COMMON_ERRORS,
                },
            }
        },
        "/auth/logout": {
            "post": {
                "operationId": "logout",
                "security": BEARER,
                "requestBody": _body("LogoutRequest", required=False),
                "responses": {
                    "204": {"description": "logged out"},
                    "401": _error("invalid_token"),
                    **COMMON_ERRORS,
                },
            }
        },
        "/auth/me": {
            "get": {
                "operationId": "me",
                "security": BEARER,
                "responses": {
                    "200": {"description": "the caller", "content": _json(_ref("User"))},
                    "401": _error("invalid_token"),
                    "503": COMMON_ERRORS["503"],
                },
            }
        },
        "/.well-known/jwks.json": {
            "get": {
                "operationId": "jwks",
                "responses": {
                    "200": {
                        "description": "public verification keys",
                        "content": _json({"type": "object", "required": ["keys"]}),
                    }
                },
            }
        },
        "/health/live": {
            "get": {
                "operationId": "live",
                "responses": {"200": {"description": "alive", "content": _json(status)}},
            }
        },
        "/health/ready": {
            "get": {
                "operationId": "ready",
                "responses": {
                    "200": {"description": "ready", "content": _json(status)},
                    "503": {"description": "Postgres or Redis down", "content": _json(status)},
                },
            }
        },
    }
    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": "authscale auth service",
            "version": "1.0.0",
            "description": "Signup, login, refresh and logout; errors are "
            '{"error": {"code", "message"}}. /metrics and health details are served on '
            "the metrics listener (AUTH_METRICS_LISTEN), not here.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Credentials": credentials,
                "NewCredentials": new_credentials,
                "RefreshRequest": {
                    "type": "object",
                    "required": ["refresh_token"],
                    "properties": {"refresh_token": _string()},
                },
                "LogoutRequest": {
                    "type": "object",
                    "properties": {"refresh_token": _string()},
                },
                "Tokens": tokens,
                "RefreshedTokens": {
                    **tokens,
                    "properties": {
                        **tokens["properties"],
                        # null once the session's device has been revoked
                        "device_token": {**_string(), "nullable": True},
                    },
                },
                "User": user,
                "Error": error,
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document
