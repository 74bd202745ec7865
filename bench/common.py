"""What every benchmark shares: summary statistics, the result rows, and a child's set-up.

Each benchmark module has `run() -> list[Measurement]` and is executed by `bench.run` in a
child process of its own (`python -m bench.<name> RESULT_FILE`), with DATABASE_URL, REDIS_URL
and SECRET_KEY already in its environment, so settings are read once, correctly, at set-up.
Figures are printed and stored, never asserted: a benchmark that misses its goal still passes.

Benchmarks of the production topology also start real Celery processes (worker, beat) here.
"""

import gc
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

REPO_ROOT = Path(__file__).resolve().parent.parent
# Samples are seconds, or bytes for a memory unit; the scale turns them into the unit.
UNIT_SCALE = {"ns": 1e9, "µs": 1e6, "ms": 1e3, "s": 1.0, "MiB": 1 / 2**20}
WORKER_START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 20
STATISTICS = ("mean", "p50", "p90", "p99", "max")


def percentile(sorted_values: Sequence[float], percent: float) -> float:
    """The nearest-rank percentile: a value that was actually observed."""
    if not sorted_values:
        raise ValueError("no samples")
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Measurement:
    """One row of the results: samples in seconds (bytes for MiB), reported in `unit`.

    `goal` is in `unit` and applies to the statistic named by `goal_stat`; a row without a
    goal is a breakdown of another row and only informs.
    """

    name: str
    description: str
    samples: list[float]
    unit: str
    goal: float | None = None
    goal_stat: str = "p50"
    details: dict = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.samples)
        scale = UNIT_SCALE[self.unit]
        return {
            "mean": sum(ordered) / len(ordered) * scale,
            "p50": percentile(ordered, 50) * scale,
            "p90": percentile(ordered, 90) * scale,
            "p99": percentile(ordered, 99) * scale,
            "max": ordered[-1] * scale,
        }

    def as_dict(self) -> dict:
        stats = self.summary()
        met = None if self.goal is None else stats[self.goal_stat] <= self.goal
        return {
            "name": self.name,
            "description": self.description,
            "unit": self.unit,
            "count": len(self.samples),
            **{key: round(value, 3) for key, value in stats.items()},
            "goal": self.goal,
            "goal_stat": self.goal_stat if self.goal is not None else None,
            "met": met,
            "details": self.details,
        }


@contextmanager
def phase_clock(module, phases: dict[str, str]) -> Iterator[dict[str, list[float]]]:
    """Time the named module-level steps wherever the module calls them; yields the samples."""
    samples: dict[str, list[float]] = {label: [] for label in phases.values()}
    originals = {name: getattr(module, name) for name in phases}

    def clocked(function, label):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                samples[label].append(time.perf_counter() - started)

        return wrapper

    for name, label in phases.items():
        setattr(module, name, clocked(originals[name], label))
    try:
        yield samples
    finally:
        for name, original in originals.items():
            setattr(module, name, original)


def settle() -> None:
    """Start a measurement from a clean heap, so garbage from set-up is not billed to it."""
    gc.collect()


def setup_django() -> None:
    """Configure Django from the environment the driver prepared."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexgent.settings")
    import django

    django.setup()


def child_main(run: Callable[[], list[Measurement]], *, uses_django: bool = True) -> None:
    """Entry point of a benchmark's child process: run it, write its rows to argv[1]."""
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: python -m {run.__module__} RESULT_FILE")
    if uses_django:
        setup_django()
    rows = [measurement.as_dict() for measurement in run()]
    Path(sys.argv[1]).write_text(json.dumps(rows, indent=2))


# --- Celery processes ---------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process (all its threads) has used so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime, the 14th and 15th fields of stat (11th and 12th after the name).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pids_named(name: str) -> list[int]:
    """Processes whose command name is `name` (postgres, redis-server)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class CpuMeter:
    """CPU seconds used by groups of processes between start() and stop(): where a
    measurement's work went on a machine whose cores it shares."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]):
        self.groups = groups
        self._start: dict[str, dict[int, float]] = {}
        self.used: dict[str, float] = {}

    def _read(self) -> dict[str, dict[int, float]]:
        return {
            group: {pid: cpu_seconds(pid) for pid in pids()} for group, pids in self.groups.items()
        }

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[str, float]:
        for group, now in self._read().items():
            before = self._start.get(group, {})
            spent = sum(value - before.get(pid, 0.0) for pid, value in now.items())
            self.used[group] = self.used.get(group, 0.0) + spent
        return self.used


class CeleryProcess(NamedTuple):
    process: subprocess.Popen
    log: Path


def celery_env(engine_settings: dict[str, str], **extra: str) -> dict[str, str]:
    """This child's environment (its database and Redis), the settings that point the HTTP
    clients at localnet, and the broker path instead of the driver's inline tasks."""
    return {**os.environ, **engine_settings, "NEXGENT_TASK_MODE": "celery", **extra}


def spawn(argv: list[str], env: dict[str, str], log: Path) -> CeleryProcess:
    # A session of its own, so stopping it stops everything it started.
    with log.open("w") as out:
        process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return CeleryProcess(process, log)


def start_workers(
    engine_settings: dict[str, str],
    log_dir: Path,
    *,
    count: int,
    concurrency: int,
    extra_env: dict[str, str] | None = None,
    pool: str = "threads",
) -> list[CeleryProcess]:
    """`count` Celery workers, each with `concurrency` threads (or, with pool="prefork", child
    processes, as the Procfile's worker runs)."""
    from tests.harness import celery_worker_argv

    env = celery_env(engine_settings, **(extra_env or {}))
    return [
        spawn(
            celery_worker_argv(concurrency, "--hostname", f"bench{index}@%h", pool=pool),
            env,
            log_dir / f"worker{index}.log",
        )
        for index in range(count)
    ]


def wait_for_workers(workers: list[CeleryProcess]) -> None:
    """Until every worker answers a ping: before that, a task could wait for a worker to boot."""
    from nexgent.celery import app

    deadline = time.monotonic() + WORKER_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        check_running(workers)
        if len(app.control.ping(timeout=0.5) or []) >= len(workers):
            return
    raise RuntimeError(
        f"the Celery workers did not answer a ping within {WORKER_START_TIMEOUT_SECONDS} s"
    )


def check_running(processes: list[CeleryProcess]) -> None:
    for process, log in processes:
        if process.poll() is not None:
            raise RuntimeError(f"a Celery process exited:\n{log.read_text()[-3000:]}")


def stop_processes(processes: list[CeleryProcess]) -> None:
    for process, _ in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process, _ in processes:
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def print_logs(processes: list[CeleryProcess]) -> None:
    """The end of each process's log, on stderr: what a failed benchmark's processes said."""
    for _, log in processes:
        print(f"--- {log.name}\n{log.read_text()[-3000:]}", file=sys.stderr)
