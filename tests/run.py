"""Runs the suite on each backend: python -m tests.run --backend all|sqlite|postgres [-- ARGS].

ARGS after `--` go to pytest. pytest-django reads the settings before any fixture could start
a server, so this wrapper starts PostgreSQL and Redis first and gives their URLs to a pytest
subprocess. The wrapper is also loaded into that subprocess as a plugin (`-p tests.run`), only
to report how many tests ran, so the final summary can tell "all passed" from "nothing ran".
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("sqlite", "postgres")
DESCRIPTIONS = {
    "sqlite": "embedded default: SQLite, local-memory cache, in-memory channel layer",
    "postgres": "PostgreSQL + Redis started by the harness: django-redis cache, "
    "channels-redis layer, Celery broker",
}
# Read by tests/test_backends.py to decide what the run must be using.
BACKEND_ENV = "NEXGENT_TEST_BACKEND"
COUNTS_ENV = "NEXGENT_TEST_COUNTS_FILE"
# Variables that would make one backend's run use the other backend's servers or modes.
BACKEND_VARIABLES = ("DATABASE_URL", "REDIS_URL", "NEXGENT_TASK_MODE")
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
PYTEST_NO_TESTS_COLLECTED = 5


@dataclass
class Result:
    backend: str
    exit_code: int
    seconds: float = 0.0
    counts: dict = field(default_factory=dict)
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.ran > 0

    @property
    def ran(self) -> int:
        return sum(self.counts.get(outcome, 0) for outcome in OUTCOMES if outcome != "skipped")

    def describe(self) -> str:
        if self.problem:
            return self.problem
        parts = [f"{self.counts[o]} {o}" for o in OUTCOMES if self.counts.get(o)]
        if self.exit_code == PYTEST_NO_TESTS_COLLECTED:
            parts.append("no tests collected")
        elif not self.counts:
            parts.append("pytest reported no counts")
        elif self.ran == 0:
            parts.append("no test ran")
        return ", ".join(parts) + f" (pytest exit {self.exit_code}, {self.seconds:.1f}s)"


# --- pytest plugin side (runs inside the pytest subprocess) -----------------------------------


def pytest_terminal_summary(terminalreporter):
    path = os.environ.get(COUNTS_ENV)
    if not path:
        return
    counts = {outcome: len(terminalreporter.stats.get(outcome, [])) for outcome in OUTCOMES}
    Path(path).write_text(json.dumps(counts))


# --- wrapper side -----------------------------------------------------------------------------


def say(text: str = "") -> None:
    print(text, flush=True)


def banner(text: str) -> None:
    say()
    say("=" * 100)
    say(f"  {text}")
    say("=" * 100)


def backend_env(backend: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in BACKEND_VARIABLES}
    # DEBUG is off in tests unless asked for, and then the settings insist on a secret key.
    if not env.get("SECRET_KEY"):
        env["SECRET_KEY"] = secrets.token_urlsafe(50)
    env[BACKEND_ENV] = backend
    return env


def run_pytest(backend: str, env: dict, pytest_args: list[str]) -> Result:
    with tempfile.TemporaryDirectory(prefix="nexgent-test-counts-") as counts_dir:
        counts_file = Path(counts_dir) / "counts.json"
        env = {**env, COUNTS_ENV: str(counts_file)}
        argv = [sys.executable, "-m", "pytest", "-p", "tests.run", *pytest_args]
        say(f"$ {BACKEND_ENV}={backend} python {' '.join(argv[1:])}")
        started = time.monotonic()
        process = subprocess.Popen(argv, cwd=REPO_ROOT, env=env)
        try:
            exit_code = process.wait()
        except BaseException:
            _stop_pytest(process)
            raise
        result = Result(backend, exit_code, seconds=time.monotonic() - started)
        if counts_file.exists():
            result.counts = json.loads(counts_file.read_text())
    return result


def _stop_pytest(process: subprocess.Popen) -> None:
    """Lets pytest run its teardown (SIGINT, unless the shell made it ignore that), then insists."""
    for sig, grace in ((signal.SIGINT, 15), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        if process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue


def run_backend(backend: str, pytest_args: list[str]) -> Result:
    banner(f"backend: {backend} -- {DESCRIPTIONS[backend]}")
    env = backend_env(backend)
    if backend == "sqlite":
        return run_pytest(backend, env, pytest_args)

    from tests.harness import ServerError, start_postgres, start_redis

    try:
        with start_postgres() as postgres, start_redis() as redis:
            say(f"PostgreSQL {postgres.version}: {postgres.url}  (log {postgres.log_path})")
            say(f"Redis: {redis.url}  (log {redis.log_path})")
            # No persistent connections: server threads in the tests must not keep the test
            # database open past their test, or it cannot be dropped at the end.
            env.update(DATABASE_URL=postgres.url, REDIS_URL=redis.url, DATABASE_CONN_MAX_AGE="0")
            return run_pytest(backend, env, pytest_args)
    except ServerError as error:
        say(f"could not start the servers: {error}")
        return Result(backend, 1, problem=f"servers did not start: {str(error).splitlines()[0]}")


def parse_args(argv: list[str]) -> tuple[str, list[str]]:
    usage = "usage: python -m tests.run [--backend all|sqlite|postgres] [-- PYTEST_ARGS...]"
    own, pytest_args = argv, []
    if "--" in argv:
        split = argv.index("--")
        own, pytest_args = argv[:split], argv[split + 1 :]
    backend = "all"
    rest = list(own)
    while rest:
        arg = rest.pop(0)
        if arg in ("-h", "--help"):
            say(usage)
            raise SystemExit(0)
        if arg == "--backend" and rest:
            backend = rest.pop(0)
        elif arg.startswith("--backend="):
            backend = arg.split("=", 1)[1]
        else:
            raise SystemExit(f"unexpected argument {arg!r}\n{usage}")
    if backend not in ("all", *BACKENDS):
        raise SystemExit(f"unknown backend {backend!r}\n{usage}")
    return backend, pytest_args


def _exit_on_sigterm(signum, frame):
    # Unwinds through the `with` blocks, so the servers are stopped and their files removed.
    say(f"\n{signal.Signals(signum).name}: stopping pytest and the servers")
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    backend, pytest_args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    backends = BACKENDS if backend == "all" else (backend,)
    results = [run_backend(name, pytest_args) for name in backends]

    banner("summary")
    for result in results:
        verdict = "OK    " if result.ok else "FAILED"
        say(f"  {result.backend:<9} {verdict} {result.describe()}")
    failed = [result for result in results if not result.ok]
    if not failed:
        return 0
    return next((r.exit_code for r in failed if r.exit_code), 1)


if __name__ == "__main__":
    sys.exit(main())
