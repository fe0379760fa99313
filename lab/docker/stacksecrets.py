"""The secrets stack.yml expects, generated fresh for each `lab docker up` (pure core).

Every value is random; the JWT key is a new Ed25519 key. The Redis ACL file gives the
service a user of its own with the generated password and leaves the default user able to
PING only (the healthcheck), so the network alone grants no access to sessions.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

#: Docker secret names (stack.yml, "secrets:" with external names)
PREFIX = "authscale_"
REDIS_USER = "authscale"


@dataclass(frozen=True, kw_only=True)
class StackSecrets:
    jwt_private_key: str
    token_pepper: str
    postgres_password: str
    redis_password: str
    balancer_admin_token: str
    grafana_admin_password: str

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not value or (any(c.isspace() for c in value.strip()) and name != "jwt_private_key"):
                raise ValueError(f"secret {name} is empty or has inner whitespace")

    @property
    def database_url(self) -> str:
        return f"postgresql://authscale:{self.postgres_password}@postgres:5432/authscale"

    @property
    def redis_url(self) -> str:
        return f"redis://{REDIS_USER}:{self.redis_password}@redis:6379/0"

    @property
    def redis_acl(self) -> str:
        return (
            "user default on nopass -@all +ping\n"
            f"user {REDIS_USER} on >{self.redis_password} ~* &* +@all\n"
        )

    def docker_secrets(self) -> dict[str, str]:
        """Docker secret name → content, for every external secret of stack.yml."""
        values = {
            "jwt_private_key": self.jwt_private_key,
            "token_pepper": self.token_pepper,
            "database_url": self.database_url,
            "postgres_password": self.postgres_password,
            "redis_url": self.redis_url,
            "redis_acl": self.redis_acl,
            "balancer_admin_token": self.balancer_admin_token,
            "grafana_admin_password": self.grafana_admin_password,
        }
        return {PREFIX + name: value for name, value in values.items()}


def generate() -> StackSecrets:
    key = Ed25519PrivateKey.generate().private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    return StackSecrets(
        jwt_private_key=key.decode("ascii"),
        # Hex text of 256 random bits: what `python -m service pepper` writes.
        token_pepper=secrets.token_hex(32),
        # URL-safe: they sit inside URLs and the Redis ACL file unescaped.
        postgres_password=secrets.token_hex(24),
        redis_password=secrets.token_hex(24),
        balancer_admin_token=secrets.token_urlsafe(32),
        grafana_admin_password=secrets.token_urlsafe(18),
    )
