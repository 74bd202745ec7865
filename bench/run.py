"""Run the benchmarks: python -m bench.run [--only NAME ...] [--output PATH].

This driver starts a throwaway PostgreSQL and Redis (tests.harness), gives every benchmark
that needs a database a fresh database and Redis index of its own, and runs each benchmark in
a child process whose environment already names them: Django reads its settings once, at
set-up, so they must be in the environment before it starts. It then prints one table and
writes every figure, with the machine it ran on, to bench/results/latest.json.

Nothing here asserts a timing. A figure that misses its goal is reported as such.
"""

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "bench" / "results" / "latest.json"
CHILD_TIMEOUT_SECONDS = 600
# Variables of the caller's shell that would point a benchmark at other servers or modes.
INHERITED_OUT = ("DATABASE_URL", "REDIS_URL", "NEXGENT_TASK_MODE", "DEBUG", "LOG_LEVEL")


@dataclass(frozen=True)
class Benchmark:
    name: str
    # A fresh PostgreSQL database and Redis index of its own, or none at all.
    needs_servers: bool
    redis_index: int = 0


BENCHMARKS = (
    Benchmark("rules_per_position", needs_servers=False),
    Benchmark("tick_10k", needs_servers=True, redis_index=1),
    Benchmark("buy_e2e", needs_servers=True, redis_index=2),
    Benchmark("signals", needs_servers=True, redis_index=3),
    Benchmark("price_to_exit", needs_servers=True, redis_index=4),
    Benchmark("worker_rss", needs_servers=True, redis_index=5),
    Benchmark("live_signal_to_sent", needs_servers=True, redis_index=6),
    Benchmark("live_stop_to_confirmed", needs_servers=True, redis_index=7),
    Benchmark("strategist_cycle", needs_servers=True, redis_index=8),
)


def say(text: str = "") -> None:
    print(text, flush=True)


def git(*args: str) -> str:
    try:
        result = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    return result.stdout.strip()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages: on a 2-core machine, anything else running shows."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "platform": platform.platform(),
        "git_commit": git("rev-parse", "HEAD") or "unknown",
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "load_average_at_start": load_average(),
    }


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in INHERITED_OUT}
    # DEBUG stays off: with it on, Django keeps every query it runs in memory.
    env["SECRET_KEY"] = env.get("SECRET_KEY") or secrets.token_urlsafe(50)
    env["LOG_LEVEL"] = "WARNING"
    env["DJANGO_SETTINGS_MODULE"] = "nexgent.settings"
    return {**env, **extra}


def run_child(benchmark: Benchmark, env: dict[str, str]) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="nexgent-bench-") as tmp:
        result_file = Path(tmp) / "result.json"
        argv = [sys.executable, "-m", f"bench.{benchmark.name}", str(result_file)]
        started = time.monotonic()
        completed = subprocess.run(
            argv, cwd=REPO_ROOT, env=env, timeout=CHILD_TIMEOUT_SECONDS, check=False
        )
        seconds = time.monotonic() - started
        if completed.returncode != 0 or not result_file.exists():
            say(f"!! {benchmark.name} failed (exit {completed.returncode}) after {seconds:.1f}s")
            return [{"name": benchmark.name, "error": f"exit code {completed.returncode}"}]
        say(f"   {benchmark.name} done in {seconds:.1f}s")
        return json.loads(result_file.read_text())


def postgres_version(pg) -> str:
    with pg.connect() as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def redis_version() -> str:
    from tests.harness import find_redis_server

    try:
        text = subprocess.run(
            [str(find_redis_server()), "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    version = next((part for part in text.split() if part.startswith("v=")), "v=unknown")
    return version.removeprefix("v=")


def run_all(selected: list[Benchmark]) -> tuple[list[dict], dict]:
    rows: list[dict] = []
    servers: dict = {}
    plain = [b for b in selected if not b.needs_servers]
    with_servers = [b for b in selected if b.needs_servers]
    for benchmark in plain:
        say(f"-> {benchmark.name}")
        rows += run_child(benchmark, child_env({}))
    if not with_servers:
        return rows, servers

    from tests.harness import start_postgres, start_redis

    say("-> starting PostgreSQL and Redis (tests.harness)")
    with start_postgres() as pg, start_redis() as redis:
        servers = {"postgresql": postgres_version(pg), "redis": redis_version()}
        for benchmark in with_servers:
            database = f"bench_{benchmark.name}"
            with pg.connect() as conn:
                conn.execute(f'CREATE DATABASE "{database}"')
            env = child_env(
                {
                    "DATABASE_URL": pg.url.rsplit("/", 1)[0] + f"/{database}",
                    "REDIS_URL": redis.url.rsplit("/", 1)[0] + f"/{benchmark.redis_index}",
                    # Tasks run inline, except on the Celery workers that signals,
                    # price_to_exit and worker_rss start themselves.
                    "NEXGENT_TASK_MODE": "eager",
                }
            )
            say(f"-> {benchmark.name} (PostgreSQL {servers['postgresql']}, Redis)")
            rows += run_child(benchmark, env)
    return rows, servers


def format_number(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(rows: list[dict]) -> str:
    header = ("benchmark", "n", "mean", "p50", "p90", "p99", "max", "unit", "goal", "met")
    lines = []
    for row in rows:
        if "error" in row:
            lines.append((row["name"], "-", "-", "-", "-", "-", "-", "-", "-", row["error"]))
            continue
        goal = f"{row['goal_stat']} <= {row['goal']:g}" if row["goal"] is not None else ""
        met = {True: "yes", False: "NO", None: ""}[row["met"]]
        stats = [format_number(row[key]) for key in ("mean", "p50", "p90", "p99", "max")]
        lines.append((row["name"], str(row["count"]), *stats, row["unit"], goal, met))
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

    def render(cells) -> str:
        first = cells[0].ljust(widths[0])
        numbers = [cells[i].rjust(widths[i]) for i in range(1, 7)]
        rest = [cells[i].ljust(widths[i]) for i in range(7, len(cells))]
        return "  ".join([first, *numbers, *rest]).rstrip()

    rule = "-" * len(render(header))
    return "\n".join([render(header), rule, *(render(line) for line in lines)])


def main(argv: list[str] | None = None) -> int:
    names = [b.name for b in BENCHMARKS]
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=names, help="run only this benchmark")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the JSON to write")
    args = parser.parse_args(argv)
    selected = [b for b in BENCHMARKS if not args.only or b.name in args.only]

    info = machine()
    say(
        f"nexgent benchmarks: Python {info['python']}, {info['cpu_count']} CPUs "
        f"({info['cpu_model']}), commit {info['git_commit'][:12]}"
        + (" + uncommitted changes" if info["git_dirty"] else "")
        + f", load average {info['load_average_at_start']}"
    )
    started = time.monotonic()
    rows, servers = run_all(selected)
    seconds = time.monotonic() - started

    say()
    say(table(rows))
    report = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "machine": {**info, **servers, "load_average_at_end": load_average()},
        "benchmarks": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    say()
    say(f"{len(rows)} rows in {seconds:.0f}s; written to {args.output}")
    return 1 if any("error" in row for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
