"""The authscale auth service: signup, login, refresh and logout on Postgres + Redis.

Modules, one job each: ``config`` (the settings, validated; built from ``environment``,
the AUTH_* variables read, and ``flags``, the command line), ``errors`` (the exception tree),
``keys`` and ``tokens`` (signing keys, secret files, access JWTs), ``pepper`` (MACs under
the server pepper), ``refresh_tokens`` and ``devices`` (the opaque tokens), ``emails`` and
``passwords`` (input rules, bcrypt), ``users`` (Postgres store and migrations),
``sessions``, ``throttle`` and ``throttle_scripts`` (Redis), ``addresses`` (client
address, CIDR lists), ``health``, ``metrics``, ``metrics_listener`` (/metrics off the
public port), ``timing`` (the Server-Timing phases), ``logs``, ``web`` (request parsing,
JSON errors), ``routes``, ``openapi``, ``app`` (``create_app``), ``revoke``
(``revoke-devices``) and ``__main__`` (``python -m service``).
"""
