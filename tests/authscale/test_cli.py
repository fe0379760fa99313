"""The `authscale` command: one entry point, help that shows what was typed, one-line usage
errors with exit status 2, the same flag names across programs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from authscale import cli, version

REPO = Path(__file__).resolve().parents[2]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "authscale", *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_version_is_the_installed_distributions() -> None:
    done = run("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"authscale {version()}"
    assert version()[0].isdigit()


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (("service", "--help"), "usage: authscale service"),
        (("balancer", "--help"), "usage: authscale balancer"),
        (("loadgen", "--help"), "usage: authscale loadgen"),
        (("lab", "--help"), "usage: authscale lab <command>"),
        (("lab", "bench", "--help"), "usage: authscale lab bench"),
        (("lab", "up", "--help"), "usage: authscale lab up"),
    ],
)
def test_help_shows_the_command_as_typed(argv: tuple[str, ...], shown: str) -> None:
    done = run(*argv)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(shown)


def test_python_dash_m_entry_points_keep_their_own_names() -> None:
    for program in ("service", "balancer", "loadgen", "lab"):
        done = subprocess.run(
            [sys.executable, "-m", program, "--help"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"usage: python -m {program}")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("nope",), "authscale: error: unknown program 'nope'"),
        (("service", "--port", "x"), "authscale service: error: argument --port"),
        (("balancer", "--bogus"), "authscale balancer: error: unrecognized arguments: --bogus"),
        (("loadgen", "--vus", "0", "--target", "http://127.0.0.1:9"), "authscale loadgen: error"),
        (("lab", "bench", "--vus", "x"), "authscale lab bench: error: argument --vus"),
        (("lab", "nope"), "authscale lab: error: unknown command 'nope'"),
        (
            ("lab", "up", "--cpus-per-instance", "5"),
            "authscale lab up: error: argument --cpus-per-instance: must be more than 0",
        ),
        (
            ("lab", "up", "--cpus-per-instance", "-1"),
            "authscale lab up: error: argument --cpus-per-instance: must be more than 0",
        ),
        (
            ("lab", "up", "--bcrypt-rounds", "3"),
            "authscale lab up: error: argument --bcrypt-rounds: bcrypt takes a cost of 4..31",
        ),
        (
            ("lab", "bench", "--bcrypt-rounds", "32"),
            "authscale lab bench: error: argument --bcrypt-rounds: bcrypt takes a cost of 4..31",
        ),
        (
            ("lab", "chaos", "--bcrypt-rounds", "3"),
            "authscale lab chaos: error: argument --bcrypt-rounds: bcrypt takes a cost of 4..31",
        ),
        (
            ("lab", "bench", "--instances", "1"),
            "authscale lab bench: error: --instances must be at least 2 for the scaled topology",
        ),
    ],
)
def test_invalid_options_exit_2_with_one_line(argv: tuple[str, ...], says: str) -> None:
    done = run(*argv)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(says)
    assert lines[0].endswith("(see --help)")


def test_a_missing_results_file_is_named_with_the_program() -> None:
    done = run("lab", "report", "/nonexistent/results.json")
    # The command line was right and the file was not: exit 1, not a usage error.
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "authscale lab report: error: cannot read /nonexistent/results.json: No such file or "
        "directory"
    ]


@pytest.mark.parametrize("command", ["bench", "bench-scale", "report"])
def test_lab_help_names_no_other_program(command: str) -> None:
    done = run("lab", command, "--help")
    assert done.returncode == 0
    assert done.stdout.startswith(f"usage: authscale lab {command}")
    assert "python -m" not in done.stdout
    assert "make bench" not in done.stdout


def test_lab_infra_help_explains_up_and_down() -> None:
    done = run("lab", "infra", "--help")
    assert done.returncode == 0
    assert "up: start PostgreSQL and Redis" in done.stdout
    assert "down: stop" in done.stdout


def test_no_program_prints_the_usage_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "programs:" in capsys.readouterr().err


@pytest.mark.parametrize("program", ["lab up", "lab bench", "lab bench-scale", "lab chaos"])
def test_the_bcrypt_cost_has_one_name_everywhere(program: str) -> None:
    done = run(*program.split(), "--help")
    assert "--bcrypt-rounds" in done.stdout
    assert "--bcrypt-cost" not in done.stdout


def test_service_and_balancer_take_the_same_log_format_values() -> None:
    for program in ("service", "balancer"):
        done = run(program, "--help")
        assert "{text,json}" in done.stdout.replace(" ", ""), program


@pytest.mark.parametrize("command", ["bench", "bench-proxy", "bench-service", "chaos"])
def test_lab_durations_are_written_the_same_way_everywhere(command: str) -> None:
    from lab.flags import duration

    assert duration("1m30s") == 90.0
    assert duration("2") == 2.0
    done = run("lab", command, "--duration", "soon")
    assert done.returncode == 2
    assert "invalid duration 'soon'" in done.stderr
