"""`manage.py` run as a new user runs it: in a process of its own, on the embedded default
(no DATABASE_URL, REDIS_URL or SECRET_KEY from the test run), with its var/ in a directory of
the test's."""

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# What the test run sets (tests/run.py) and a new user's shell does not.
TEST_RUN_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "NEXGENT_TASK_MODE",
    "SQLITE_PATH",
    "SQLITE_TEST_PATH",
    "NEXGENT_DEMO",
    "DEBUG",
    "WALLET_MASTER_KEY",
    "WALLET_MASTER_KEY_FILE",
)


def embedded_env(var_dir: Path, **variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TEST_RUN_VARIABLES}
    return {**env, "NEXGENT_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1", **variables}


def manage_py(env: dict[str, str], *args: str, check: bool = True):
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def manage_py_popen(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
