"""Email domains compared by UTS-46 (IDNA2008) instead of NFKC + casefold.

Until now the whole address was folded with NFKC + casefold, so ``a@ß.test`` was stored as
``a@ss.test`` and the two addresses were one account. The canonical form is now the local
part folded as before and the domain after UTS-46 non-transitional processing, as an
A-label (:func:`service.emails.canonical_address`). This recomputes ``email_canonical``
from the stored display form for every row (a plain ASCII address mostly folds to the same
text both ways, but its domain may be one IDNA2008 refuses, such as ``foo_bar.com``).

Collisions: two rows that were distinct may now want the same canonical form. The oldest
account (``created_at``, then ``id``) gets it (an untouched row already holding it is
older by definition of "already there"); every other row of the group keeps its data
but its canonical form becomes ``collision:<id>:<wanted form>``, which no login or signup
can produce (``:`` is not allowed in an unquoted local part), and it is listed in
``email_canonical_collisions`` for an operator to resolve (merge, or ask the owner).
A row whose domain IDNA2008 refuses keeps its old canonical form, which no login can
produce any more (login refuses such a domain as no email address): it is listed there
too, with ``reason = 'invalid_domain'`` and no ``wanted`` form, for an operator to
correct the address.

Instances of the previous version still fold domains the old way: stop them before this
migration runs (a rolling upgrade would let them sign up ``a@ss.test`` spellings again).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from service.emails import canonical_address
from service.errors import InvalidEmail

log = logging.getLogger("authscale.service")

COLLISION_TABLE = """
CREATE TABLE IF NOT EXISTS email_canonical_collisions (
    user_id     uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- NULL for 'invalid_domain': there is no new form to want.
    wanted      text,
    kept_by     uuid,
    reason      text        NOT NULL DEFAULT 'collision',
    recorded_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True, slots=True)
class Row:
    id: str
    email: str
    canonical: str
    order: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """New canonical forms by user id, (user id, wanted form, kept by) collisions, and
    the user ids whose domain IDNA2008 refuses."""

    updates: dict[str, str]
    collisions: list[tuple[str, str, str]]
    refused: list[str]


def collision_form(user_id: str, wanted: str) -> str:
    return f"collision:{user_id}:{wanted}"


def plan(rows: Iterable[Row], holders: Mapping[str, str]) -> Plan:
    """What to change, without I/O.

    ``rows`` are the candidates; ``holders`` maps canonical forms already stored by rows
    that are not changing to their user id.
    """
    wanted: dict[str, list[Row]] = {}
    refused: list[str] = []
    for row in rows:
        try:
            new = canonical_address(row.email)
        except InvalidEmail:
            log.warning("migration 0002: user %s keeps its canonical form (bad domain)", row.id)
            refused.append(row.id)
            continue
        if new != row.canonical:
            wanted.setdefault(new, []).append(row)
    updates: dict[str, str] = {}
    collisions: list[tuple[str, str, str]] = []
    for form, group in wanted.items():
        group.sort(key=lambda row: row.order)
        keeper = holders.get(form)
        if keeper is None:
            keeper = group[0].id
            updates[keeper] = form
            group = group[1:]
        for row in group:
            updates[row.id] = collision_form(row.id, form)
            collisions.append((row.id, form, keeper))
    return Plan(updates=updates, collisions=collisions, refused=refused)


async def apply(connection: Any) -> None:
    """Run inside the migration's transaction (see ``service.users.migrate``)."""
    await connection.execute(COLLISION_TABLE)
    records = await connection.fetch(
        "SELECT id::text AS id, email, email_canonical, created_at FROM users"
    )
    rows = [
        Row(r["id"], r["email"], r["email_canonical"], (r["created_at"], r["id"])) for r in records
    ]
    wanted: dict[str, str] = {}
    for row in rows:
        try:
            wanted[row.id] = canonical_address(row.email)
        except InvalidEmail:
            continue
    current = {row.id: row.canonical for row in rows}
    moving = {user_id for user_id, form in wanted.items() if form != current[user_id]}
    holder_rows = await connection.fetch(
        "SELECT id::text AS id, email_canonical FROM users WHERE email_canonical = ANY($1)",
        list(wanted.values()),
    )
    holders = {r["email_canonical"]: r["id"] for r in holder_rows if r["id"] not in moving}
    changes = plan(rows, holders)
    await connection.executemany(
        "INSERT INTO email_canonical_collisions (user_id, reason) VALUES ($1::uuid, $2)",
        [(user_id, "invalid_domain") for user_id in changes.refused],
    )
    if not changes.updates:
        return
    # Free every old value first, so no update meets a row that has yet to move.
    await connection.execute(
        "UPDATE users SET email_canonical = 'migrating:' || id::text WHERE id::text = ANY($1)",
        list(changes.updates),
    )
    await connection.executemany(
        "UPDATE users SET email_canonical = $2 WHERE id::text = $1",
        list(changes.updates.items()),
    )
    await connection.executemany(
        "INSERT INTO email_canonical_collisions (user_id, wanted, kept_by)"
        " VALUES ($1::uuid, $2, $3::uuid)",
        changes.collisions,
    )
    log.info(
        "migration 0002: %d canonical forms recomputed, %d collisions and %d refused"
        " domains recorded",
        len(changes.updates) - len(changes.collisions),
        len(changes.collisions),
        len(changes.refused),
    )
