"""The authscale auth service: signup, login, refresh and logout on Postgres + Redis.

Modules, one job each: ``config`` (settings from env/argv), ``errors`` (the exception tree),
``keys`` and ``tokens`` (signing keys, access JWTs), ``emails`` and ``passwords`` (input
rules, bcrypt), ``users`` (Postgres store and migrations), ``sessions`` and ``throttle``
(Redis), ``health``, ``metrics``, ``timing`` (the Server-Timing phases), ``logs``, ``web``
(request parsing, JSON errors), ``routes``, ``openapi``, ``app`` (``create_app``) and
``__main__`` (``python -m service``).
"""
