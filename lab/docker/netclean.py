"""What a Docker engine leaves in the host's network after it stops, and how to remove it.

dockerd creates bridges (docker0, docker_gwbridge, br-*), veth pairs and iptables chains
(DOCKER, DOCKER-USER, DOCKER-ISOLATION-STAGE-*, DOCKER-INGRESS), sets the FORWARD policy
to DROP, and undoes none of it when it exits. The lab records the host's state before it
starts an engine and, after stopping it, removes only what appeared since and looks like
Docker's (and restores the policies): never a link or rule that was there before, nor one
that another program made.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

TABLES = ("filter", "nat", "mangle")
LINK_PREFIXES = ("docker0", "docker_gwbridge", "br-", "veth", "vx-", "ov-")


@dataclass(frozen=True, kw_only=True)
class NetState:
    """Interface names and `iptables -S` lines per table."""

    links: frozenset[str]
    rules: Mapping[str, tuple[str, ...]]

    def to_dict(self) -> dict[str, object]:
        return {"links": sorted(self.links), "rules": {t: list(r) for t, r in self.rules.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> NetState:
        links = data.get("links", [])
        rules = data.get("rules", {})
        assert isinstance(links, list)
        assert isinstance(rules, dict)
        return cls(
            links=frozenset(str(x) for x in links),
            rules={str(t): tuple(str(x) for x in r) for t, r in rules.items()},
        )


def parse_links(ip_output: str) -> frozenset[str]:
    """Names from `ip -o link show` (``7: veth1a2b@if6: <...>`` → ``veth1a2b``)."""
    names = set()
    for line in ip_output.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2 and parts[1].strip():
            names.add(parts[1].strip().split("@", 1)[0])
    return frozenset(names)


def _is_docker_chain(chain: str) -> bool:
    return chain == "DOCKER" or chain.startswith("DOCKER-")


def _mentions_docker(rule: str) -> bool:
    words = shlex.split(rule)
    for i, word in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if word in ("-A", "-j", "-g") and _is_docker_chain(nxt):
            return True
        if word in ("-i", "-o") and nxt.startswith(LINK_PREFIXES):
            return True
    return False


def cleanup_commands(before: NetState, after: NetState) -> list[list[str]]:
    """The commands that undo what appeared between two snapshots and is Docker's (pure).

    Rules first (a chain that is still referenced cannot be deleted), then the chains,
    flushed and deleted, then the links.
    """
    commands: list[list[str]] = []
    chains: list[list[str]] = []
    for table in TABLES:
        old = set(before.rules.get(table, ()))
        policies = {
            words[1]: words[2]
            for words in (shlex.split(line) for line in old)
            if words[:1] == ["-P"] and len(words) == 3
        }
        for line in after.rules.get(table, ()):
            if line in old:
                continue
            words = shlex.split(line)
            if words[:1] == ["-P"] and len(words) == 3 and words[1] in policies:
                # dockerd sets FORWARD to DROP when it enables forwarding: put it back.
                commands.append(["iptables", "-t", table, "-P", words[1], policies[words[1]]])
                continue
            if words[:1] == ["-A"] and _mentions_docker(line):
                commands.append(["iptables", "-t", table, "-D", *words[1:]])
            elif words[:1] == ["-N"] and len(words) == 2 and _is_docker_chain(words[1]):
                chains.append(["iptables", "-t", table, "-F", words[1]])
                chains.append(["iptables", "-t", table, "-X", words[1]])
    # Flush every chain before deleting any: DOCKER-ISOLATION-STAGE-1 jumps to -STAGE-2.
    commands += [c for c in chains if c[3] == "-F"] + [c for c in chains if c[3] == "-X"]
    new_links = sorted(after.links - before.links)
    # A veth pair goes with its peer; bridges last.
    for name in sorted(new_links, key=lambda n: not n.startswith("veth")):
        if name.startswith(LINK_PREFIXES):
            commands.append(["ip", "link", "delete", name])
    return commands


def _output(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return ""
    return done.stdout if done.returncode == 0 else ""


def snapshot() -> NetState:
    """The host's links and iptables rules now (empty where a tool is missing)."""
    rules = {t: tuple(_output(["iptables", "-t", t, "-S"]).splitlines()) for t in TABLES}
    return NetState(links=parse_links(_output(["ip", "-o", "link", "show"])), rules=rules)


def apply(commands: Iterable[list[str]]) -> list[str]:
    """Run the commands; returns the ones that failed (a veth gone with its peer is fine)."""
    failed = []
    for argv in commands:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0 and not (argv[0] == "ip" and "Cannot find" in done.stderr):
            failed.append(shlex.join(argv) + ": " + done.stderr.strip())
    return failed


def leftovers(before: NetState) -> list[str]:
    """What is still there that cleanup would remove (empty when the host is clean)."""
    return [shlex.join(c) for c in cleanup_commands(before, snapshot())]
