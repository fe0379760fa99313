"""Data integrity after a fault: what the clients were told against what the stores hold.

The comparison is pure (:func:`compare`); two thin readers fetch the store side
(:func:`user_rows` from PostgreSQL, :func:`sessions_present` from Redis).

Verdict per signup, by the answer the client got:

* 201 — the row must exist exactly once (else *lost* or *duplicated*);
* 409 for an address nobody had used — the request reached the service twice (*replayed*);
* another 4xx — the service refused it, so no row may exist (else *contradicted*);
* 5xx or no answer — the write may or may not have happened before the fault: a row that
  exists is listed as *unacknowledged* (the ambiguous case of a crash), not an error.

Rows under the run's address prefix that no signup asked for are *phantoms*. Every session
whose logout was answered 204, or that was revoked by the reuse of a rotated refresh token,
must be gone from Redis (else *leaked*).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: The prefix of the service's Redis keys (``AUTH_REDIS_PREFIX``) unless configured otherwise.
DEFAULT_REDIS_PREFIX = "authscale:"


@dataclass(frozen=True, kw_only=True)
class IntegrityReport:
    acknowledged: int
    refused: int
    ambiguous: int
    lost: tuple[str, ...] = ()
    duplicated: tuple[str, ...] = ()
    contradicted: tuple[str, ...] = ()
    replayed: tuple[str, ...] = ()
    phantoms: tuple[str, ...] = ()
    unacknowledged: tuple[str, ...] = ()
    sessions_checked: int = 0
    sessions_leaked: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """No lost, duplicated, contradicted, replayed or phantom row, and no leaked session."""
        return not (
            self.lost
            or self.duplicated
            or self.contradicted
            or self.replayed
            or self.phantoms
            or self.sessions_leaked
        )

    def problems(self) -> list[str]:
        named = {
            "lost (201 without a row)": self.lost,
            "duplicated rows": self.duplicated,
            "rows for refused signups": self.contradicted,
            "replayed signups (409 for a fresh address)": self.replayed,
            "rows nobody asked for": self.phantoms,
            "sessions left after logout or revocation": self.sessions_leaked,
        }
        return [f"{len(items)} {what}: {_sample(items)}" for what, items in named.items() if items]

    def summary(self) -> str:
        text = (
            f"signups acknowledged {self.acknowledged}, refused {self.refused}, "
            f"unanswered or 5xx {self.ambiguous} ({len(self.unacknowledged)} of them written); "
            f"lost {len(self.lost)}, duplicated {len(self.duplicated)}, "
            f"contradicted {len(self.contradicted)}, replayed {len(self.replayed)}, "
            f"phantoms {len(self.phantoms)}; ended sessions checked {self.sessions_checked}, "
            f"leaked {len(self.sessions_leaked)}"
        )
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "acknowledged": self.acknowledged,
            "refused": self.refused,
            "ambiguous": self.ambiguous,
            "lost": list(self.lost),
            "duplicated": list(self.duplicated),
            "contradicted": list(self.contradicted),
            "replayed": list(self.replayed),
            "phantoms": list(self.phantoms),
            "unacknowledged": list(self.unacknowledged),
            "sessions_checked": self.sessions_checked,
            "sessions_leaked": list(self.sessions_leaked),
        }


def _sample(items: Iterable[str], limit: int = 3) -> str:
    listed = list(items)
    more = f" … (+{len(listed) - limit})" if len(listed) > limit else ""
    return ", ".join(listed[:limit]) + more


def is_ambiguous(status: int) -> bool:
    """No answer, or a 5xx: the write may have happened before the failure."""
    return status == 0 or status >= 500


def compare(
    signups: Mapping[str, int],
    rows: Mapping[str, int],
    *,
    ended_sessions: Collection[str] = (),
    sessions_still_present: Collection[str] = (),
) -> IntegrityReport:
    """Judge ``signups`` (address → status answered) against ``rows`` (address → row count).

    Addresses are compared in the lower-case form the run used. ``ended_sessions`` are the
    session ids that must be gone; ``sessions_still_present`` those of them Redis still holds.
    """
    lost, duplicated, contradicted, replayed, unacknowledged = [], [], [], [], []
    acknowledged = refused = ambiguous = 0
    for email, status in signups.items():
        count = rows.get(email.lower(), 0)
        if count > 1:
            duplicated.append(email)
        if status == 201:
            acknowledged += 1
            if count == 0:
                lost.append(email)
        elif status == 409:
            refused += 1
            replayed.append(email)
        elif is_ambiguous(status):
            ambiguous += 1
            if count:
                unacknowledged.append(email)
        else:
            refused += 1
            if count:
                contradicted.append(email)
    asked = {email.lower() for email in signups}
    phantoms = sorted(email for email in rows if email not in asked)
    present = set(sessions_still_present)
    leaked = sorted(sid for sid in set(ended_sessions) if sid in present)
    return IntegrityReport(
        acknowledged=acknowledged,
        refused=refused,
        ambiguous=ambiguous,
        lost=tuple(sorted(lost)),
        duplicated=tuple(sorted(duplicated)),
        contradicted=tuple(sorted(contradicted)),
        replayed=tuple(sorted(replayed)),
        phantoms=tuple(phantoms),
        unacknowledged=tuple(sorted(unacknowledged)),
        sessions_checked=len(set(ended_sessions)),
        sessions_leaked=tuple(leaked),
    )


# ------------------------------------------------------------------------------ store readers


def like_pattern(prefix: str) -> str:
    """A LIKE pattern matching addresses that start with ``prefix`` literally."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


async def user_rows(database_url: str, address_prefix: str) -> dict[str, int]:
    """Canonical address → number of user rows, for addresses starting with the prefix."""
    import asyncpg

    connection = await asyncpg.connect(database_url, timeout=10)
    try:
        records = await connection.fetch(
            "SELECT email_canonical, count(*) AS n FROM users"
            " WHERE email_canonical LIKE $1 GROUP BY email_canonical",
            like_pattern(address_prefix.lower()),
            timeout=30,
        )
    finally:
        await connection.close()
    return {str(record["email_canonical"]): int(record["n"]) for record in records}


async def sessions_present(
    redis_url: str, session_ids: Iterable[str], *, prefix: str = DEFAULT_REDIS_PREFIX
) -> set[str]:
    """The session ids among ``session_ids`` whose session key Redis still holds."""
    from redis.asyncio import Redis

    ids = list(dict.fromkeys(session_ids))
    if not ids:
        return set()
    client = Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=10)
    try:
        pipeline = client.pipeline(transaction=False)
        for sid in ids:
            pipeline.exists(f"{prefix}session:{sid}")
        answers = await pipeline.execute()
    finally:
        await client.aclose()
    return {sid for sid, exists in zip(ids, answers, strict=True) if exists}


async def check(
    *,
    database_url: str,
    redis_url: str,
    address_prefix: str,
    signups: Mapping[str, int],
    ended_sessions: Collection[str],
    redis_prefix: str = DEFAULT_REDIS_PREFIX,
) -> IntegrityReport:
    """Read both stores and :func:`compare`."""
    rows = await user_rows(database_url, address_prefix)
    present = await sessions_present(redis_url, ended_sessions, prefix=redis_prefix)
    return compare(signups, rows, ended_sessions=ended_sessions, sessions_still_present=present)
