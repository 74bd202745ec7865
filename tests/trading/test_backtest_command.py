"""`manage.py backtest`: the preview's engine over recorded price history, printing the
preview's JSON."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from prices.selectors import LatestPrice
from prices.services import price_history_record

pytestmark = pytest.mark.django_db

MINT = "7GCihgDB8fe6KNjn2MYtkzZcRjQy3t9GHdC8uHYmW2hr"
OTHER_MINT = "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
PRICES = ["0.001", "0.0016", "0.0021", "0.0019", "0.0025"]
LADDER = {
    "take_profit": {
        "enabled": True,
        "mode": "custom",
        "levels": [
            {"target_percent": 50, "sell_percent": 40},
            {"target_percent": 100, "sell_percent": 40},
        ],
        "moon_bag": {"enabled": True, "trigger_percent": 100, "retain_percent": 20},
    }
}


def _record(mint: str, prices: list[str], start: datetime = T0, step: timedelta = MINUTE):
    price_history_record(
        [
            LatestPrice(
                mint=mint,
                price_sol=Decimal(price),
                price_usd=None,
                observed_at=start + index * step,
                source="jupiter",
            )
            for index, price in enumerate(prices)
        ]
    )


def _points(prices: list[str], start: datetime = T0, step: timedelta = MINUTE) -> list[dict]:
    return [
        {"t": (start + index * step).isoformat(), "price": price}
        for index, price in enumerate(prices)
    ]


def _backtest(*args: str) -> str:
    out = StringIO()
    call_command("backtest", *args, stdout=out)
    return out.getvalue()


def _preview(api_client, user, **body) -> dict:
    api_client.force_authenticate(user)
    response = api_client.post("/api/v1/strategy/preview", body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "ladder.json"
    path.write_text(json.dumps(LADDER))
    return str(path)


def test_prints_the_same_json_as_the_preview_for_the_recorded_path(api_client, user, config_file):
    _record(MINT, PRICES)
    _record(OTHER_MINT, ["5", "0.1"])  # another token's history is not replayed
    printed = json.loads(_backtest("--config", config_file, "--token", MINT))
    preview = _preview(api_client, user, config=LADDER, prices=_points(PRICES))
    assert printed == preview
    # Not trivially equal: the ladder and the stop both acted.
    kinds = [action["kind"] for action in printed["actions"]]
    assert kinds == ["buy", "take_profit_sell", "take_profit_sell", "stop_loss_sell"]


def test_uses_the_stored_config_of_an_agent(api_client, user, agent):
    api_client.force_authenticate(user)
    stored = api_client.put(f"/api/v1/agents/{agent.pk}/config", LADDER, format="json")
    assert stored.status_code == 200
    _record(MINT, PRICES)
    printed = json.loads(_backtest("--agent", str(agent.pk), "--token", MINT, "--buy-sol", "2"))
    preview = _preview(api_client, user, config=LADDER, buy_sol="2", prices=_points(PRICES))
    assert printed == preview
    assert printed["actions"][0]["sol"] == "2"


def test_from_and_to_choose_the_window(api_client, user, config_file):
    _record(MINT, ["0.0005", *PRICES, "0.0001"])  # one sample either side of the window
    printed = json.loads(
        _backtest(
            "--config",
            config_file,
            "--token",
            MINT,
            "--from",
            (T0 + MINUTE).isoformat(),
            "--to",
            (T0 + len(PRICES) * MINUTE).isoformat(),
        )
    )
    preview = _preview(api_client, user, config=LADDER, prices=_points(PRICES, start=T0 + MINUTE))
    assert printed == preview


def test_samples_recorded_at_the_same_instant_count_once(api_client, user, config_file):
    _record(MINT, PRICES)
    _record(MINT, ["0.0001"], start=T0 + 2 * MINUTE)  # a second source, same instant
    printed = json.loads(_backtest("--config", config_file, "--token", MINT))
    assert printed == _preview(api_client, user, config=LADDER, prices=_points(PRICES))


def test_fees_flag_charges_the_simulated_venue_fees(api_client, user, config_file, settings):
    settings.SIM_PROTOCOL_FEE_BPS = 10
    settings.SIM_SIGNATURE_FEE_LAMPORTS = 5_000
    settings.SIM_PRIORITY_FEE_LAMPORTS = 100_000
    settings.SIM_RENT_FEE_LAMPORTS = 0
    _record(MINT, PRICES)
    printed = json.loads(_backtest("--config", config_file, "--token", MINT, "--fees"))
    preview = _preview(
        api_client,
        user,
        config=LADDER,
        prices=_points(PRICES),
        fees={"protocol_fee_bps": 10, "network_fee_lamports": 105_000},
    )
    assert printed == preview
    assert printed["final"]["sol_invested"] == "1.001105"  # 1 + 0.1% + 105,000 lamports


def test_table_format_lists_each_action_and_the_outcome(config_file):
    _record(MINT, PRICES)
    table = _backtest("--config", config_file, "--token", MINT, "--format", "table")
    lines = table.splitlines()
    assert lines[0].split() == [
        "index",
        "t",
        "kind",
        "price",
        "tokens",
        "sol",
        "stop_price",
        "reason",
    ]
    assert [line.split()[2] for line in lines[1:5]] == [
        "buy",
        "take_profit_sell",
        "take_profit_sell",
        "stop_loss_sell",
    ]
    assert "close_reason: stop_loss" in lines
    assert "profit_loss_sol: 0.86" in lines


CONFIG = object()  # stands for the path of the valid config file


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--token", MINT], "one of the arguments --agent --config is required"),
        (["--agent", "1", "--config", CONFIG, "--token", MINT], "not allowed with"),
        (["--agent", "999999", "--token", MINT], "no agent with id 999999"),
        (["--config", "/no/such/file.json", "--token", MINT], "cannot read /no/such/file.json"),
        (
            ["--config", CONFIG, "--token", MINT, "--from", "2026-01-01T00:00"],
            "--from must include",
        ),
        (["--config", CONFIG, "--token", MINT, "--to", "soon"], "--to is not an ISO 8601"),
        (["--config", CONFIG, "--token", MINT, "--buy-sol", "-1"], "buy_sol: must be greater"),
        (["--config", CONFIG, "--token", OTHER_MINT], f"no recorded prices for {OTHER_MINT}"),
    ],
)
def test_bad_arguments_are_clear_command_errors(args, message, config_file):
    _record(MINT, PRICES)
    with pytest.raises(CommandError, match=message):
        _backtest(*[config_file if arg is CONFIG else arg for arg in args])


def test_an_invalid_config_file_names_every_bad_field(tmp_path):
    _record(MINT, PRICES)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"stop_loss": {"default_percentage": 5}, "dca": {"mode": "x"}}))
    with pytest.raises(CommandError) as raised:
        _backtest("--config", str(bad), "--token", MINT)
    assert "stop_loss.default_percentage" in str(raised.value)
    assert "dca.mode" in str(raised.value)


def test_a_config_file_that_is_not_json_is_a_command_error(tmp_path):
    _record(MINT, PRICES)
    bad = tmp_path / "bad.json"
    bad.write_text("{stop_loss")
    with pytest.raises(CommandError, match="is not valid JSON"):
        _backtest("--config", str(bad), "--token", MINT)


def test_no_samples_in_the_window_is_a_command_error(config_file):
    _record(MINT, PRICES)
    with pytest.raises(CommandError, match="no recorded prices"):
        _backtest("--config", config_file, "--token", MINT, "--from", "2027-01-01T00:00:00Z")
