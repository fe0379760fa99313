"""Users opened before a store restart, and how many of them the restart left usable."""

from __future__ import annotations

import aiohttp

from lab.errors import LabError
from lab.experiments.chaos.scenario import Survivor
from lab.harness.authclient import LOGIN, REFRESH, AuthClient, AuthRefused, open_session


def password(n: int, prefix: str) -> str:
    return f"survivor password {n} {prefix}"


async def open_survivors(target: str, prefix: str, count: int) -> list[Survivor]:
    """Sign up and log in ``count`` users before the fault: (address, refresh token)."""
    made: list[Survivor] = []
    async with aiohttp.ClientSession() as session:
        client = AuthClient(session, target)
        for n in range(count):
            email = f"{prefix}survivor-{n}@example.com"
            try:
                tokens = await open_session(client, email, password(n, prefix))
            except AuthRefused as exc:
                raise LabError(f"survivor {exc}") from exc
            made.append((email, tokens.refresh_token))
    return made


async def survivors_alive(target: str, survivors: list[Survivor], step: str) -> int:
    """How many survivors' sessions still refresh (``step="refresh"``) or who can still log
    in (``step="login"``)."""
    alive = 0
    async with aiohttp.ClientSession() as session:
        client = AuthClient(session, target)
        for n, (email, refresh_token) in enumerate(survivors):
            prefix = email.partition("survivor-")[0]
            if step == REFRESH:
                answer = await client.refresh(refresh_token)
            elif step == LOGIN:
                answer = await client.login(email, password(n, prefix))
            else:
                raise ValueError(f"survivors are checked by {REFRESH} or {LOGIN}, not {step}")
            alive += answer.status == 200
    return alive
