"""The README's API walkthrough, run as written (its Python block, in a process of its own)
against the engine as `make demo` serves it: the demo's market, operator and agents. It logs
in, creates an API key, posts a signal for the token the demo lists and reads back the position
each demo agent opened."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from solders.pubkey import Pubkey

from localnet.demo import WALKTHROUGH_MINT, demo_market
from signals_app.management.commands.serve import (
    DEMO_AGENT_NAME,
    DEMO_LIVE_AGENT_NAME,
    demo_prepare,
)

pytestmark = pytest.mark.django_db(transaction=True)

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_walkthrough() -> str:
    section = README.read_text().split("\n## API walkthrough\n", 1)[1].split("\n## ", 1)[0]
    (script,) = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    return script


@pytest.fixture
def market():
    return demo_market()


def test_the_readme_walkthrough_runs_as_written_against_the_demo(
    market, localnet, live_engine, settings
):
    settings.DEMO = True  # the test database stands for the demo's own
    prepared = demo_prepare(
        airdrop=lambda address, lamports: market.chain.fund(Pubkey.from_string(address), lamports),
        llm_base_url=f"{localnet.url}/v1",
    )
    script = readme_walkthrough()
    assert f'MINT = "{WALKTHROUGH_MINT}"' in script

    result = subprocess.run(
        [sys.executable, "-c", script],
        env={
            **os.environ,
            "NEXGENT_URL": f"http://{live_engine}",
            "NEXGENT_PASSWORD": prepared.operator_password,
        },
        capture_output=True,
        text=True,
        timeout=90,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    signal_line, *position_lines = result.stdout.splitlines()
    assert re.fullmatch(r"signal \d+ accepted", signal_line)
    assert sorted(line.split(":")[0] for line in position_lines) == [
        DEMO_AGENT_NAME,
        DEMO_LIVE_AGENT_NAME,
    ]
    assert all(" WALK for " in line for line in position_lines), result.stdout
