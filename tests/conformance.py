"""Loads the shared conformance vectors at test time (never copied into the tests)."""

import json
import os
from decimal import Decimal
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE_DIR = Path(
    os.environ.get("NEXGENT_CONFORMANCE_DIR", REPO_ROOT.parent / "shared" / "conformance")
)


def load(name: str) -> dict:
    """The parsed vector file; numbers arrive as Decimal so no digit is lost on the way."""
    with open(CONFORMANCE_DIR / name) as handle:
        return json.load(handle, parse_float=Decimal, parse_int=Decimal)


def close_enough(actual, expected, tolerance) -> bool:
    return abs(Decimal(str(actual)) - Decimal(str(expected))) <= Decimal(str(tolerance))
