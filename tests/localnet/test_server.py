"""LocalnetServer's lifecycle and the manage.py command that serves it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from localnet.market import SyntheticMarket
from localnet.serving import LocalnetServer

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_engine_settings_point_every_client_here():
    server = LocalnetServer()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.engine_settings() == {
            "JUPITER_BASE_URL": f"{server.url}/swap/v1",
            "JUPITER_PRICE_URL": f"{server.url}/price/v3",
            "JUPITER_ULTRA_URL": f"{server.url}/ultra/v1",
            "DEXSCREENER_BASE_URL": server.url,
            "HERMES_BASE_URL": server.url,
            "SOLANA_RPC_URL": server.url,
        }
    finally:
        server.stop()


def test_context_manager_serves_then_frees_the_port():
    market = SyntheticMarket()
    with LocalnetServer(market) as server:
        url = server.url
        assert requests.get(f"{url}/_localnet/state", timeout=5).status_code == 200
        assert server.market is market

    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/_localnet/state", timeout=1)


def test_two_servers_run_side_by_side_on_their_own_markets():
    with LocalnetServer() as first, LocalnetServer() as second:
        first.market.add_token(symbol="ONE", price_sol=1)

        assert first.url != second.url
        assert len(requests.get(f"{first.url}/_localnet/state", timeout=5).json()["tokens"]) == 1
        assert requests.get(f"{second.url}/_localnet/state", timeout=5).json()["tokens"] == []


def test_command_serves_demo_tokens_walks_and_stops_on_ctrl_c():
    env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "1")}
    command = [
        sys.executable,
        "manage.py",
        "localnet",
        "--port",
        "0",
        "--tokens",
        "3",
        "--walk",
        "0.1",
    ]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        banner = _read_banner(process)
        url = banner[0].rsplit(" ", 1)[-1]
        assert f"JUPITER_BASE_URL={url}/swap/v1" in banner
        assert f"HERMES_BASE_URL={url}" in banner
        first = requests.get(f"{url}/_localnet/state", timeout=5).json()["tokens"]
        assert len(first) == 3
        assert _prices_change(url, first)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=10)

    assert process.returncode == 0
    assert "localnet stopped" in output


def _read_banner(process) -> list[str]:
    lines = []
    for line in process.stdout:
        lines.append(line.strip())
        if line.startswith("Press Ctrl-C"):
            return lines
    raise AssertionError(f"the command exited early: {lines}")


def _prices_change(url: str, first: list[dict]) -> bool:
    before = [token["price_sol"] for token in first]
    for _ in range(50):
        tokens = requests.get(f"{url}/_localnet/state", timeout=5).json()["tokens"]
        if [token["price_sol"] for token in tokens] != before:
            return True
        time.sleep(0.1)
    return False
