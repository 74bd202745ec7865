"""`make run` and `make demo` as a new user meets them, each command in a process of its own
(tests/embedded_processes.py): the demo runs on a database of its own that each start empties,
prints its operator's email and a new password on every start, and every console line gives
the address actually served (--port 0: the port the system chose)."""

import queue
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from tests.embedded_processes import embedded_env, manage_py, manage_py_popen

START_TIMEOUT_SECONDS = 60
COUNT_ROWS = (
    "from agents.models import Agent, User; from signals_app.models import TradingSignal; "
    "print(User.objects.count(), Agent.objects.count(), TradingSignal.objects.count())"
)


class Console:
    """The lines a serving process prints, read as they come."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))

    def wait_for(self, pattern: str) -> re.Match:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                assert self.process.poll() is None, "\n".join(self.lines)
                continue
            self.lines.append(line)
            if found := re.search(pattern, line):
                return found
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.lines))


@contextmanager
def serving(env, *options) -> Iterator[Console]:
    process = manage_py_popen(env, "serve", "--host", "127.0.0.1", "--port", "0", *options)
    try:
        yield Console(process)
    finally:
        process.send_signal(signal.SIGINT)  # as Ctrl+C: uvicorn stops, then the rest
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def demo_started(console: Console) -> tuple[str, str]:
    """The URL served and the demo operator's password, as the demo printed them."""
    assert console.wait_for(r"email: +(\S+)")[1] == "demo@nexgent.local"
    password = console.wait_for(r"password: +(\S+)")[1]
    served = console.wait_for(r"Nexgent serving on (http://127\.0\.0\.1:(\d+))/")
    url = served[1]
    assert int(served[2]) != 0
    assert console.wait_for(r"Log in at (\S+)")[1] == f"{url}/login/"
    console.wait_for(r"Demo: signal DEMO1 .* -> HTTP 201")  # its stream reached that address
    return url, password


def _login(url: str, password: str) -> requests.Response:
    return requests.post(
        f"{url}/api/v1/auth/login",
        json={"email": "demo@nexgent.local", "password": password},
        timeout=10,
    )


def _rows(env) -> list[str]:
    return manage_py(env, "shell", "--no-imports", "-c", COUNT_ROWS).stdout.split()


def test_the_demo_keeps_its_own_database_and_prints_a_new_operator_each_start(tmp_path):
    run_env, demo_env = embedded_env(tmp_path), embedded_env(tmp_path, NEXGENT_DEMO="1")
    manage_py(run_env, "migrate", "--noinput")

    manage_py(demo_env, "migrate", "--noinput")  # the Makefile's `demo` recipe, twice
    with serving(demo_env, "--localnet", "--demo") as console:
        url, first_password = demo_started(console)
        assert _login(url, first_password).status_code == 200
    manage_py(demo_env, "migrate", "--noinput")
    with serving(demo_env, "--localnet", "--demo") as console:
        url, second_password = demo_started(console)
        login = _login(url, second_password)
        stale = _login(url, first_password)
        agents = requests.get(
            f"{url}/api/v1/agents",
            headers={"Authorization": f"Bearer {login.json()['access']}"},
            timeout=10,
        ).json()

    assert second_password != first_password
    # The second start began on an empty database: the first start's operator is gone, and
    # its agents with it.
    assert stale.status_code == 401
    assert sorted(agent["name"] for agent in agents) == [
        "Demo AI agent",
        "Demo agent",
        "Demo live agent",
    ]
    # make run's database saw none of it.
    assert _rows(run_env) == ["0", "0", "0"]
    assert (tmp_path / "demo.sqlite3").exists() and (tmp_path / "nexgent.sqlite3").exists()


def test_make_run_prints_the_real_address_and_refuses_the_demo_on_its_database(tmp_path):
    env = embedded_env(tmp_path)
    manage_py(env, "migrate", "--noinput")
    created = manage_py(env, "ensure_demo_operator").stdout
    password = re.search(r"password: +(\S+)", created)[1]

    # On the local market, so the test reaches no real market API; the address is served alike.
    with serving(env, "--localnet") as console:
        url = console.wait_for(r"Nexgent serving on (http://127\.0\.0\.1:(\d+))/")[1]
        assert console.wait_for(r"Log in at (\S+)")[1] == f"{url}/login/"
        assert _login(url, password).status_code == 200
    refused = manage_py(env, "serve", "--port", "0", "--localnet", "--demo", check=False)

    again = manage_py(env, "ensure_demo_operator").stdout
    assert "exists" in again and password not in again and "password:" not in again
    assert refused.returncode != 0 and "NEXGENT_DEMO" in refused.stderr
    assert _rows(env) == ["1", "0", "0"]


# The demo's AI agent cycles every minute; its first buy needs a minute of the climbing demo
# token's price history, so it comes within the second or third cycle.
AI_TRADE_TIMEOUT_SECONDS = 200


def test_the_demo_ai_agent_trades_on_the_local_model(tmp_path):
    demo_env = embedded_env(tmp_path, NEXGENT_DEMO="1")
    manage_py(demo_env, "migrate", "--noinput")
    with serving(demo_env, "--localnet", "--demo") as console:
        url, password = demo_started(console)
        assert any(line.startswith("Demo: Demo AI agent #") for line in console.lines)
        headers = {"Authorization": f"Bearer {_login(url, password).json()['access']}"}
        agents = requests.get(f"{url}/api/v1/agents", headers=headers, timeout=10).json()
        ai = next(agent for agent in agents if agent["name"] == "Demo AI agent")
        deadline = time.monotonic() + AI_TRADE_TIMEOUT_SECONDS
        positions = []
        while not positions and time.monotonic() < deadline:
            time.sleep(2)
            answer = requests.get(
                f"{url}/api/v1/agents/{ai['id']}/positions", headers=headers, timeout=10
            )
            positions = answer.json()["positions"]

    assert positions, "the demo AI agent bought nothing:\n" + "\n".join(console.lines)
    assert positions[0]["token_symbol"].startswith("DEMO")
