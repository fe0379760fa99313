"""The Docker platform's pure pieces: no engine, no sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.docker import cgroupcpu, netclean, stacksecrets
from lab.docker.images import debian_mirror
from lab.docker.stack import StackConfig, deploy_environment, healthy_backends
from tests.docker.swarm import measured

BEFORE = netclean.NetState(
    links=frozenset({"lo", "eth0", "veth-other"}),
    rules={
        "filter": ("-P INPUT ACCEPT", "-P FORWARD ACCEPT", "-N MINE", "-A FORWARD -j MINE"),
        "nat": ("-P PREROUTING ACCEPT",),
    },
)
AFTER = netclean.NetState(
    links=frozenset({"lo", "eth0", "veth-other", "docker0", "docker_gwbridge", "veth1a2b", "wg0"}),
    rules={
        "filter": (
            "-P INPUT ACCEPT",
            "-P FORWARD DROP",
            "-N MINE",
            "-N DOCKER",
            "-N DOCKER-ISOLATION-STAGE-1",
            "-N DOCKER-ISOLATION-STAGE-2",
            "-A FORWARD -j MINE",
            "-A FORWARD -j DOCKER-ISOLATION-STAGE-1",
            "-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-A FORWARD -i eth0 -j ACCEPT",
            "-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2",
        ),
        "nat": (
            "-P PREROUTING ACCEPT",
            "-N DOCKER",
            "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
        ),
    },
)


def test_cleanup_removes_only_what_docker_added() -> None:
    commands = [" ".join(c) for c in netclean.cleanup_commands(BEFORE, AFTER)]
    assert "iptables -t filter -P FORWARD ACCEPT" in commands
    assert "iptables -t filter -D FORWARD -j DOCKER-ISOLATION-STAGE-1" in commands
    assert (
        "iptables -t filter -D FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED "
        "-j ACCEPT" in commands
    )
    assert "iptables -t nat -D POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE" in commands
    # Not Docker's, or there before: kept.
    assert not [c for c in commands if "MINE" in c or "-i eth0" in c]
    assert "ip link delete wg0" not in commands
    assert "ip link delete veth-other" not in commands
    # Rules, then every chain flushed before any is deleted, then links (veths first).
    flushes = [i for i, c in enumerate(commands) if " -F " in c]
    deletes = [i for i, c in enumerate(commands) if " -X " in c]
    rules = [i for i, c in enumerate(commands) if " -D " in c]
    assert max(rules) < min(flushes)
    assert max(flushes) < min(deletes)
    links = [c for c in commands if c.startswith("ip link")]
    assert links == [
        "ip link delete veth1a2b",
        "ip link delete docker0",
        "ip link delete docker_gwbridge",
    ]
    assert len(deletes) == 4  # DOCKER twice (filter, nat) and the two isolation stages


def test_nothing_to_clean_when_nothing_changed() -> None:
    assert netclean.cleanup_commands(AFTER, AFTER) == []


def test_net_state_survives_the_record() -> None:
    assert netclean.NetState.from_dict(AFTER.to_dict()) == AFTER


def test_link_names_from_ip_output() -> None:
    output = "1: lo: <LOOPBACK,UP> mtu 65536\n7: veth1a2b@if6: <BROADCAST> mtu 1500\n"
    assert netclean.parse_links(output) == {"lo", "veth1a2b"}


def test_mirror_from_deb822_skips_security() -> None:
    sources = (
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm\n"
    )
    assert debian_mirror([("debian.sources", sources)]) == "http://mirror.example/debian"


def test_mirror_from_one_line_format() -> None:
    text = "# deb http://old/\ndeb [arch=amd64] http://mirror.example/debian bookworm main\n"
    assert debian_mirror([("sources.list", text)]) == "http://mirror.example/debian"
    assert debian_mirror([("sources.list", "# nothing\n")]) is None


def test_secrets_are_fresh_and_consistent() -> None:
    one, two = stacksecrets.generate(), stacksecrets.generate()
    assert one.balancer_admin_token != two.balancer_admin_token
    named = one.docker_secrets()
    assert set(named) == {
        f"authscale_{n}"
        for n in (
            "jwt_private_key",
            "token_pepper",
            "database_url",
            "postgres_password",
            "redis_url",
            "redis_acl",
            "balancer_admin_token",
            "grafana_admin_password",
        )
    }
    assert one.postgres_password in named["authscale_database_url"]
    assert f"authscale:{one.redis_password}@redis:6379" in named["authscale_redis_url"]
    assert f">{one.redis_password} " in named["authscale_redis_acl"]
    # The default user can PING (the healthcheck) and nothing else.
    assert "user default on nopass -@all +ping\n" in named["authscale_redis_acl"]
    assert len(bytes.fromhex(one.token_pepper)) == 32
    assert named["authscale_jwt_private_key"].startswith("-----BEGIN PRIVATE KEY-----")


def test_stack_config_validates() -> None:
    with pytest.raises(ValueError, match="replicas"):
        StackConfig(replicas=0)
    with pytest.raises(ValueError, match="cpus"):
        StackConfig(cpus_per_replica=0)
    assert StackConfig(cpus_per_replica=0.5).bcrypt_threads(host_cores=8) == 1
    assert StackConfig(cpus_per_replica=1.5).bcrypt_threads(host_cores=8) == 2
    assert StackConfig().bcrypt_threads(host_cores=8) == 8


def test_deploy_environment() -> None:
    env = deploy_environment(
        StackConfig(replicas=3, cpus_per_replica=None, bcrypt_rounds=4),
        images={"AUTHSCALE_IMAGE": "authscale:latest"},
        ports={"balancer": 1, "admin": 2, "prometheus": 3, "grafana": 4},
        exempt=("127.0.0.0/8", "172.18.0.0/16"),
        host_cores=2,
        config_version="7",
    )
    assert env["SERVICE_CPUS"] == "0", "no limit is 0 to Swarm"
    assert env["REPLICAS"] == "3"
    assert env["AUTH_BCRYPT_THREADS"] == "2"
    assert env["AUTH_RATE_LIMIT_EXEMPT"] == "127.0.0.0/8,172.18.0.0/16"
    assert env["BALANCER_PORT"] == "1"
    assert env["AUTHSCALE_IMAGE"] == "authscale:latest"
    limited = deploy_environment(
        StackConfig(cpus_per_replica=0.5),
        images={},
        ports={"balancer": 1, "admin": 2, "prometheus": 3, "grafana": 4},
        exempt=(),
        host_cores=2,
        config_version="7",
    )
    assert limited["SERVICE_CPUS"] == "0.5"
    assert limited["AUTH_RATE_LIMIT_EXEMPT"] == ""


def test_healthy_backends_counts_up_only() -> None:
    payload = {"backends": [{"state": "up"}, {"state": "down"}, {"state": "up"}]}
    assert healthy_backends(payload) == 2
    assert healthy_backends({}) == 0


def test_cgroup_files_v1_and_v2(tmp_path: Path) -> None:
    v1 = "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n"
    files = cgroupcpu.cgroup_files(v1, root=tmp_path)
    assert tmp_path / "cpu,cpuacct/docker/abc/cpuacct.usage" in files
    split = "2:cpuacct:/docker/abc\n1:cpu:/docker/abc\n"
    assert cgroupcpu.cgroup_files(split, root=tmp_path)[0] == (
        tmp_path / "cpuacct/docker/abc/cpuacct.usage"
    )
    assert cgroupcpu.cgroup_files("0::/system.slice/docker-abc.scope\n", root=tmp_path) == [
        tmp_path / "system.slice/docker-abc.scope/cpu.stat"
    ]


def test_read_usage(tmp_path: Path) -> None:
    usage = tmp_path / "cpuacct.usage"
    usage.write_text("2500000000\n")
    assert cgroupcpu.read_usage(usage) == 2.5
    stat = tmp_path / "cpu.stat"
    stat.write_text("usage_usec 1500000\nuser_usec 1000000\n")
    assert cgroupcpu.read_usage(stat) == 1.5
    assert cgroupcpu.read_usage(tmp_path / "missing") is None


@pytest.mark.parametrize(
    ("expr", "quantity"),
    [
        ('up{job="service"} == 0', 'up{job="service"}'),
        ("avg_over_time(x[5m]) >= 0.9", "avg_over_time(x[5m])"),
        (
            "histogram_quantile(0.95, sum by (le) (rate(b[5m]))) > 1",
            "histogram_quantile(0.95, sum by (le) (rate(b[5m])))",
        ),
        (
            'sum(rate(l{r=~"a|b"}[5m])) > 5 * sum(rate(l{r="ok"}[5m])) + 1',
            'sum(rate(l{r=~"a|b"}[5m]))',
        ),
    ],
)
def test_an_alert_measures_its_left_side(expr: str, quantity: str) -> None:
    assert measured(expr) == quantity


def test_a_long_checkout_path_keeps_the_engines_sockets_short(tmp_path: Path) -> None:
    from lab.docker.engine import MAX_SOCKET_PARENT, EngineConfig

    short = EngineConfig(state_dir=tmp_path / "d")
    if len(str(short.state_dir.resolve())) <= MAX_SOCKET_PARENT:
        assert short.runtime_dir == short.state_dir.resolve()
    deep = EngineConfig(state_dir=tmp_path / ("x" * 80) / ".lab" / "docker")
    runtime = deep.runtime_dir
    assert len(str(runtime / "exec" / "containerd" / "containerd.sock")) < 107
    assert runtime == EngineConfig(state_dir=deep.state_dir).runtime_dir  # stable per folder
    assert runtime != EngineConfig(state_dir=tmp_path / ("y" * 80)).runtime_dir
