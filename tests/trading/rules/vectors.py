"""Checking rule outputs against the shared conformance vectors."""

from decimal import Decimal

from tests.conformance import close_enough


def assert_matches(expected: dict, actual: dict, tolerance: Decimal) -> None:
    """Every expected key must be checked: a key the test does not know fails loudly, so a
    vector that gains a field cannot pass unchecked."""
    for key, want in expected.items():
        assert key in actual, f"vector field {key!r} is not checked by this test"
        got = actual[key]
        if key == "reason":
            assert want.lower() in got.lower(), f"reason {got!r} lacks {want!r}"
        elif want is None or isinstance(want, bool | str):
            assert got == want, f"{key}: {got!r} != {want!r}"
        elif isinstance(want, list):
            assert len(got) == len(want), f"{key}: {got!r} != {want!r}"
            for got_item, want_item in zip(got, want, strict=True):
                assert close_enough(got_item, want_item, tolerance), f"{key}: {got!r} != {want!r}"
        else:
            assert isinstance(got, Decimal | int), f"{key}: {got!r} is not exact"
            assert close_enough(got, want, tolerance), f"{key}: {got} != {want}"


def numbered(cases: list[dict], describe) -> list[str]:
    """Test ids that say which vector failed: its position and what it is about."""
    return [f"{index}-{describe(case)}" for index, case in enumerate(cases)]
