"""Real PostgreSQL and Redis servers for the tests, started from the machine's own binaries.

Each server gets a fresh temporary directory and a free port on 127.0.0.1, is waited on until
it accepts connections, and is stopped (its whole process group) by `stop()`, by leaving its
`with` block, or at interpreter exit, whichever comes first. Nothing here is used in production.

    with start_postgres() as pg, start_redis() as redis:
        env = {**os.environ, "DATABASE_URL": pg.url, "REDIS_URL": redis.url}
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
# A port picked by free_port() can be taken by someone else before the server binds it.
START_ATTEMPTS = 3
POSTGRES_DB = "nexgent"
POSTGRES_USER = "postgres"
# Tests start ASGI servers, Celery workers and thread pools, each with its own connections.
POSTGRES_MAX_CONNECTIONS = 200
_PR_SET_PDEATHSIG = 1


class ServerError(RuntimeError):
    """A test server could not be found, started or reached."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent(sig: signal.Signals):
    """A preexec_fn: the child gets `sig` if this process dies without cleaning up (SIGKILL).

    Linux sends it when the creating *thread* exits, so it is only armed from the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):  # not Linux
        return None

    def arm():
        prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)

    return arm


class _Server:
    """A server process in its own session, with a temporary directory and a log file."""

    name = "server"
    stop_signal = signal.SIGTERM

    def __init__(self, tmp_dir: Path):
        self.tmp_dir = tmp_dir
        self.log_path = tmp_dir / f"{self.name}.log"
        self.process: subprocess.Popen | None = None
        self.port: int | None = None
        self._stopped = False
        atexit.register(self.stop)

    @property
    def url(self) -> str:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def __repr__(self):
        state = "stopped" if self._stopped else "running"
        return f"<{type(self).__name__} {self.url if self.port else '?'} {state}>"

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def _fail(self, message: str) -> ServerError:
        return ServerError(f"{self.name}: {message}\n--- {self.log_path} ---\n{self.log_tail()}")

    def _spawn(self, argv: list[str], **kwargs) -> subprocess.Popen:
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent(self.stop_signal),
                **kwargs,
            )

    def _wait_until_ready(self, ready) -> None:
        """Polls `ready()` until it is true; fails fast if the process exits meanwhile."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise self._fail(f"exited with code {self.process.returncode} while starting")
            if ready():
                return
            if time.monotonic() > deadline:
                raise self._fail(f"not accepting connections after {STARTUP_TIMEOUT:.0f}s")
            time.sleep(0.05)

    def _start_on_free_port(self, ready) -> None:
        for attempt in range(START_ATTEMPTS):
            self.port = free_port()
            self.start()
            try:
                self._wait_until_ready(ready)
                return
            except ServerError:
                lost_the_port = "in use" in self.log_tail(20).lower()
                if attempt + 1 == START_ATTEMPTS or not lost_the_port:
                    raise
                self._terminate()

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stops the server and deletes its directory. Safe to call more than once."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        self._terminate()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def _terminate(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, self.stop_signal)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)
        # Kill whatever is left of the group (PostgreSQL backends, for one), then reap.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)


# --- PostgreSQL -------------------------------------------------------------------------------


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))


def find_postgres_bin() -> Path:
    """The bin directory of the newest installed PostgreSQL (Debian layout first, then PATH)."""
    candidates = [
        path
        for path in Path("/usr/lib/postgresql").glob("*/bin")
        if (path / "initdb").is_file() and (path / "postgres").is_file()
    ]
    if candidates:
        return max(candidates, key=_version_key)
    initdb = shutil.which("initdb")
    if initdb:
        bin_dir = Path(initdb).resolve().parent
        if (bin_dir / "postgres").is_file():
            return bin_dir
    raise ServerError(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin or on PATH "
        "(install them: apt-get install -y postgresql)"
    )


class PostgresServer(_Server):
    """A throwaway PostgreSQL cluster with one database, trust auth, listening on 127.0.0.1."""

    name = "postgres"
    # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to disconnect.
    stop_signal = signal.SIGINT

    def __init__(self, tmp_dir: Path, bin_dir: Path, run_as: pwd.struct_passwd | None):
        super().__init__(tmp_dir)
        self.bin_dir = bin_dir
        self.run_as = run_as
        self.data_dir = tmp_dir / "data"
        self.socket_dir = tmp_dir / "run"
        self.host = "127.0.0.1"
        self.user = POSTGRES_USER
        self.dbname = POSTGRES_DB
        self.version = bin_dir.parent.name

    @property
    def url(self) -> str:
        return f"postgres://{self.user}@{self.host}:{self.port}/{self.dbname}"

    def _as_owner(self) -> dict:
        """Popen arguments that run a command as the cluster's owner (PostgreSQL refuses root)."""
        env = {
            "PATH": f"{self.bin_dir}:/usr/bin:/bin",
            "HOME": str(self.tmp_dir),
            "LC_ALL": "C",
            "LANG": "C",
        }
        kwargs = {"cwd": self.tmp_dir, "env": env}
        if self.run_as is not None:
            kwargs.update(user=self.run_as.pw_uid, group=self.run_as.pw_gid, extra_groups=[])
        return kwargs

    def initdb(self) -> None:
        self.socket_dir.mkdir()
        if self.run_as is not None:
            for path in (self.tmp_dir, self.socket_dir):
                os.chown(path, self.run_as.pw_uid, self.run_as.pw_gid)
        argv = [
            str(self.bin_dir / "initdb"),
            "--pgdata",
            str(self.data_dir),
            "--username",
            self.user,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
        ]
        with open(self.log_path, "ab") as log:
            result = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=STARTUP_TIMEOUT * 2,
                check=False,
                **self._as_owner(),
            )
        if result.returncode != 0:
            raise self._fail(f"initdb failed with code {result.returncode}")

    def start(self) -> None:
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": str(POSTGRES_MAX_CONNECTIONS),
            # Durability is worthless for a database deleted after the run.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            # Benchmarks read when a row's transaction committed (pg_xact_commit_timestamp).
            "track_commit_timestamp": "on",
        }
        argv = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        self.process = self._spawn(argv, **self._as_owner())

    def connect(self, dbname: str = "postgres"):
        import psycopg

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            dbname=dbname,
            connect_timeout=2,
            autocommit=True,
        )

    def _accepts_connections(self) -> bool:
        import psycopg

        try:
            with self.connect():
                return True
        except psycopg.OperationalError:
            return False

    def create_database(self) -> None:
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{self.dbname}"')


def _postgres_owner() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise ServerError(
            "running as root, and PostgreSQL refuses to run as root, but there is no "
            "`postgres` system user to run it as (apt-get install -y postgresql creates it)"
        ) from None


def start_postgres() -> PostgresServer:
    """A fresh PostgreSQL cluster on a free port with an empty database "nexgent".

    Use `.url` (postgres://postgres@127.0.0.1:PORT/nexgent) and call `.stop()` when done, or
    use it as a context manager.
    """
    bin_dir = find_postgres_bin()
    run_as = _postgres_owner()
    # Under /tmp, not $TMPDIR: the postgres user must be able to reach it, and the unix
    # socket path must stay short.
    tmp_root = "/tmp" if os.path.isdir("/tmp") else None
    server = PostgresServer(
        Path(tempfile.mkdtemp(prefix="nexgent-pg-", dir=tmp_root)), bin_dir, run_as
    )
    try:
        server.initdb()
        server._start_on_free_port(server._accepts_connections)
        server.create_database()
    except BaseException:
        server.stop()
        raise
    return server


# --- Redis ------------------------------------------------------------------------------------


def find_redis_server() -> Path:
    found = shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.path.isfile(p)),
        None,
    )
    if not found:
        raise ServerError("redis-server not found (install it: apt-get install -y redis-server)")
    return Path(found)


class RedisServer(_Server):
    """A throwaway Redis with no persistence, listening on 127.0.0.1."""

    name = "redis"
    stop_signal = signal.SIGTERM

    def __init__(self, tmp_dir: Path, binary: Path):
        super().__init__(tmp_dir)
        self.binary = binary
        self.host = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> None:
        argv = [
            str(self.binary),
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.tmp_dir),
            "--daemonize",
            "no",
        ]
        self.process = self._spawn(argv, cwd=self.tmp_dir)

    def ping(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


def start_redis() -> RedisServer:
    """A fresh Redis on a free port. Use `.url` (redis://127.0.0.1:PORT/0) and `.stop()`."""
    binary = find_redis_server()
    server = RedisServer(Path(tempfile.mkdtemp(prefix="nexgent-redis-")), binary)
    try:
        server._start_on_free_port(server.ping)
    except BaseException:
        server.stop()
        raise
    return server


def current_database_url() -> str:
    """The test database pytest-django created, for processes that must see the test's rows."""
    from django.db import connection

    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def web_argv(port: int) -> list[str]:
    """The production web process (uvicorn serving the ASGI app) on 127.0.0.1:`port`, quiet."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "nexgent.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--lifespan",
        "off",
        "--log-level",
        "warning",
    ]


def celery_worker_argv(concurrency: int, *extra: str, pool: str = "threads") -> list[str]:
    """A real Celery worker (on threads unless `pool` says otherwise), quiet, without the
    cluster chatter tests don't need."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "nexgent",
        "worker",
        "--pool",
        pool,
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "warning",
        "--without-gossip",
        "--without-mingle",
        *extra,
    ]


def celery_beat_argv(schedule: Path) -> list[str]:
    """Real Celery beat with the project's schedule, its state kept in `schedule`."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "nexgent",
        "beat",
        "--loglevel",
        "warning",
        "--schedule",
        str(schedule),
    ]
