"""POST /api/v1/strategy/preview: the live engine's rules replayed along a price path.

Expected amounts are worked out here by hand from trading-rules.md, never by calling the code
under test. The last test runs the same config and path through the live executor (localnet
fills, the real price tick) and checks that both take the same actions in the same order.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trading.models import Position, Transaction
from trading.services import position_buy
from trading.tasks import price_poll

pytestmark = pytest.mark.django_db

URL = "/api/v1/strategy/preview"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
NO_STALE = {"stale_trade": {"enabled": False}}


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _path(*prices: str, step: timedelta = MINUTE) -> list[dict]:
    return [{"t": _iso(T0 + index * step), "price": price} for index, price in enumerate(prices)]


def _post(api_client, user, body):
    api_client.force_authenticate(user)
    return api_client.post(URL, body, format="json")


def _preview(api_client, user, **body) -> dict:
    response = _post(api_client, user, body)
    assert response.status_code == 200, response.json()
    return response.json()


def _kinds(result: dict) -> list[str]:
    return [action["kind"] for action in result["actions"]]


def _at(result: dict, index: int) -> dict:
    (action,) = [action for action in result["actions"] if action["index"] == index]
    return action


# --- Stop loss ------------------------------------------------------------------------------------


def test_fixed_stop_sells_everything_when_the_price_touches_the_stop(api_client, user):
    # Default config: fixed mode, -32% of the 0.001 average is a stop price of 0.00068.
    result = _preview(
        api_client, user, prices=_path("0.001", "0.0009", "0.00068", "0.0005"), buy_sol="1"
    )
    assert _kinds(result) == ["buy", "stop_loss_sell"]
    buy = _at(result, 0)
    assert (buy["tokens"], buy["sol"], buy["stop_price"]) == ("1000", "1", "0.00068")
    sale = _at(result, 2)  # the trigger is inclusive; the point after it is never reached
    assert sale == {
        "index": 2,
        "t": _iso(T0 + 2 * MINUTE),
        "kind": "stop_loss_sell",
        "price": "0.00068",
        "tokens": "1000",
        "sol": "0.68",
        "stop_loss_percent": "-32",
        "stop_price": "0.00068",
        "reason": "stop loss hit",
    }
    assert result["final"] == {
        "tokens_held": "0",
        "sol_invested": "1",
        "sol_received": "0.68",
        "profit_loss_sol": "-0.32",
        "closed": True,
        "close_reason": "stop_loss",
    }


def test_trailing_stop_ratchets_up_then_sells_in_profit(api_client, user):
    # +50% peak: fixed mode trails to 50 - 10 = +40%, a stop price of 0.0014. The dip to
    # +45% sells nothing (the stop never loosens); 0.0013 is below the stop.
    result = _preview(api_client, user, prices=_path("0.001", "0.0015", "0.00145", "0.0013"))
    assert _kinds(result) == ["buy", "stop_loss_sell"]
    sale = _at(result, 3)
    assert (sale["stop_loss_percent"], sale["stop_price"]) == ("40", "0.0014")
    assert (sale["tokens"], sale["sol"]) == ("1000", "1.3")
    assert result["final"]["profit_loss_sol"] == "0.3"
    assert result["final"]["close_reason"] == "stop_loss"


def test_a_path_that_never_triggers_stays_open_and_is_valued_at_the_last_price(api_client, user):
    result = _preview(api_client, user, prices=_path("0.001", "0.0011", "0.0012"), buy_sol="2")
    assert _kinds(result) == ["buy"]
    assert result["final"] == {
        "tokens_held": "2000",
        "sol_invested": "2",
        "sol_received": "0",
        "profit_loss_sol": "0.4",  # 2000 tokens x 0.0012 - 2 SOL
        "closed": False,
        "close_reason": None,
    }


# --- Take profit and DCA --------------------------------------------------------------------------

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


def test_take_profit_ladder_keeps_the_moon_bag_until_the_stop_sells_it(api_client, user):
    result = _preview(
        api_client, user, config=LADDER, prices=_path("0.001", "0.0016", "0.0021", "0.0019")
    )
    assert _kinds(result) == ["buy", "take_profit_sell", "take_profit_sell", "stop_loss_sell"]
    # +60%: the first level sells 40% of the 1000 tokens bought; the stop trails to +50%.
    first = _at(result, 1)
    assert (first["tokens"], first["sol"], first["stop_price"]) == ("400", "0.64", "0.0015")
    # +110%: the last level sells another 40% and the moon bag (20% = 200 tokens) is kept.
    second = _at(result, 2)
    assert (second["tokens"], second["sol"], second["stop_price"]) == ("400", "0.84", "0.002")
    # 0.0019 is under the +100% stop: the stop loss sells the moon bag too.
    last = _at(result, 3)
    assert (last["tokens"], last["sol"]) == ("200", "0.38")
    assert result["final"] == {
        "tokens_held": "0",
        "sol_invested": "1",
        "sol_received": "1.86",
        "profit_loss_sol": "0.86",
        "closed": True,
        "close_reason": "stop_loss",
    }


def test_take_profit_never_sells_the_moon_bag(api_client, user):
    result = _preview(api_client, user, config=LADDER, prices=_path("0.001", "0.0021", "0.005"))
    # One jump past both levels sells 80%; nothing is left to sell above the moon bag.
    assert _kinds(result) == ["buy", "take_profit_sell"]
    assert _at(result, 1)["tokens"] == "800"
    assert result["final"]["tokens_held"] == "200"
    assert result["final"]["closed"] is False


def test_dca_never_averages_down_the_moon_bag(api_client, user):
    config = {
        **LADDER,
        "stop_loss": {"enabled": False},
        "dca": {
            "enabled": True,
            "mode": "custom",
            "levels": [{"drop_percent": -20, "buy_percent": 100}],
        },
    }
    # The ladder leaves only the moon bag; -20% from the average would otherwise buy more.
    result = _preview(api_client, user, config=config, prices=_path("0.001", "0.0021", "0.0008"))
    assert _kinds(result) == ["buy", "take_profit_sell"]
    assert result["final"]["tokens_held"] == "200"


def test_dca_lowers_the_average_and_take_profit_restarts_from_its_first_level(api_client, user):
    config = {
        **NO_STALE,
        # A stop far away (custom mode trails only past +1000%) leaves room for the DCA drop.
        "stop_loss": {
            "default_percentage": -50,
            "mode": "custom",
            "trailing_levels": [{"change": 1000, "stop_loss": 10}],
        },
        "take_profit": {
            "enabled": True,
            "mode": "custom",
            "levels": [{"target_percent": 20, "sell_percent": 50}],
            "moon_bag": {"enabled": False},
        },
        "dca": {
            "enabled": True,
            "mode": "custom",
            "levels": [{"drop_percent": -20, "buy_percent": 100}],
        },
    }
    prices = _path("0.001", "0.00125", "0.0013", "0.0008", "0.00115")
    result = _preview(api_client, user, config=config, prices=prices)

    # +25%: the only level sells 50% of 1000; at +30% the batch is spent and nothing sells.
    assert _kinds(result) == ["buy", "take_profit_sell", "dca_buy", "take_profit_sell"]
    assert (_at(result, 1)["tokens"], _at(result, 1)["sol"]) == ("500", "0.625")
    # -20%: buy 100% of the value still held: 0.0008 x 500 = 0.4 SOL, 500 tokens.
    dca = _at(result, 3)
    assert (dca["tokens"], dca["sol"], dca["reason"]) == (
        "500",
        "0.4",
        "price dropped to dca level 1",
    )
    # The average falls to 1.4 SOL / 1500 tokens; the -50% stop follows it down.
    new_average = Decimal("1.4") / 1500
    assert abs(Decimal(dca["stop_price"]) - new_average / 2) < Decimal("1e-25")
    assert Decimal(dca["stop_price"]) < Decimal(_at(result, 0)["stop_price"])
    # 0.00115 is only +15% over the first average but +23.2% over the new one: the level
    # fires again and sells 50% of all 1500 tokens bought.
    again = _at(result, 4)
    assert (again["tokens"], again["sol"]) == ("750", "0.8625")
    assert result["final"] == {
        "tokens_held": "250",
        "sol_invested": "1.4",
        "sol_received": "1.4875",
        "profit_loss_sol": "0.375",  # 1.4875 + 250 x 0.00115 - 1.4
        "closed": False,
        "close_reason": None,
    }


def test_dca_cooldown_is_measured_in_price_path_time(api_client, user):
    config = {**NO_STALE, "dca": {"enabled": True, "mode": "aggressive", "cooldown_seconds": 60}}
    seconds = [0, 10, 20, 90]
    prices = ["0.001", "0.0009", "0.0008", "0.0008"]
    path = [
        {"t": _iso(T0 + timedelta(seconds=s)), "price": p}
        for s, p in zip(seconds, prices, strict=True)
    ]
    result = _preview(api_client, user, config=config, prices=path)
    # -10% buys 0.9 SOL more (average 1.9 / 2000 = 0.00095). 0.0008 is -15.8% from it, but
    # 10 s after the last buy is inside the 60 s cooldown; at 90 s the second level buys.
    assert _kinds(result) == ["buy", "dca_buy", "dca_buy"]
    assert [action["index"] for action in result["actions"]] == [0, 1, 3]
    assert _at(result, 3)["sol"] == "1.6"  # 0.0008 x 2000 tokens x 100%


# --- Stale trade ----------------------------------------------------------------------------------


def test_stale_trade_closes_after_the_minimum_hold_in_path_time(api_client, user):
    # Defaults: 60 minutes, profit window 1%..10%. +5% at 30 minutes is too young.
    path = [
        {"t": "2026-01-01T00:00:00Z", "price": "0.001"},
        {"t": "2026-01-01T00:30:00Z", "price": "0.00105"},
        {"t": "2026-01-01T01:00:00+00:00", "price": "0.00105"},
    ]
    result = _preview(api_client, user, prices=path)
    assert _kinds(result) == ["buy", "stale_sell"]
    sale = _at(result, 2)
    assert (sale["t"], sale["tokens"], sale["sol"]) == ("2026-01-01T01:00:00Z", "1000", "1.05")
    assert result["final"]["close_reason"] == "stale_trade"
    assert result["final"]["profit_loss_sol"] == "0.05"


def test_the_same_prices_a_minute_apart_are_not_stale(api_client, user):
    result = _preview(api_client, user, prices=_path("0.001", "0.00105", "0.00105"))
    assert _kinds(result) == ["buy"]


def test_timestamps_in_other_zones_are_reported_in_utc(api_client, user):
    path = [
        {"t": "2026-01-01T02:00:00+02:00", "price": "0.001"},
        {"t": "2026-01-01T01:00:00+00:00", "price": "0.0005"},
    ]
    result = _preview(api_client, user, prices=path)
    assert [action["t"] for action in result["actions"]] == [
        "2026-01-01T00:00:00Z",
        "2026-01-01T01:00:00Z",
    ]


# --- Fees -----------------------------------------------------------------------------------------

LAMPORTS_PER_SOL = Decimal(10) ** 9


def _fee(sol_side: Decimal, bps: int, network_lamports: int) -> Decimal:
    """trading-rules.md section 7: bps x SOL side / 10^4, plus the network fee."""
    return sol_side * bps / 10_000 + Decimal(network_lamports) / LAMPORTS_PER_SOL


def test_fees_on_the_buy_and_the_sale_change_the_profit_exactly(api_client, user):
    bps, network = 10, 105_000
    prices = _path("0.001", "0.0006")
    free = _preview(api_client, user, prices=prices)
    paid = _preview(
        api_client,
        user,
        prices=prices,
        fees={"protocol_fee_bps": bps, "network_fee_lamports": network},
    )
    debit = Decimal(1) + _fee(Decimal(1), bps, network)  # 1.001105
    proceeds = Decimal(1000) * Decimal("0.0006")  # the fee leaves the purchase price alone
    credit = proceeds - _fee(proceeds, bps, network)  # 0.599295

    assert free["final"]["profit_loss_sol"] == "-0.4"
    assert paid["final"]["sol_invested"] == str(debit)
    assert paid["final"]["sol_received"] == str(credit)
    assert Decimal(paid["final"]["profit_loss_sol"]) == credit - debit == Decimal("-0.40181")
    assert [a["sol"] for a in paid["actions"]] == [str(debit), str(credit)]
    assert [a["tokens"] for a in paid["actions"]] == ["1000", "1000"]


def test_an_empty_fees_object_charges_the_simulated_venue_fees(api_client, user, settings):
    settings.SIM_PROTOCOL_FEE_BPS = 25
    settings.SIM_SIGNATURE_FEE_LAMPORTS = 5_000
    settings.SIM_PRIORITY_FEE_LAMPORTS = 20_000
    settings.SIM_RENT_FEE_LAMPORTS = 0
    result = _preview(api_client, user, prices=_path("0.001"), fees={})
    assert Decimal(result["final"]["sol_invested"]) == 1 + _fee(Decimal(1), 25, 25_000)


def test_dca_with_fees_puts_the_fees_into_the_average(api_client, user):
    bps, network = 100, 1_000_000
    config = {
        **NO_STALE,
        # No stop: the default -32% would sell before a -50% DCA level.
        "stop_loss": {"enabled": False},
        "dca": {
            "enabled": True,
            "mode": "custom",
            "levels": [{"drop_percent": -50, "buy_percent": 100}],
        },
    }
    result = _preview(
        api_client,
        user,
        config=config,
        prices=_path("0.001", "0.0005"),
        fees={"protocol_fee_bps": bps, "network_fee_lamports": network},
    )
    first = Decimal(1) + _fee(Decimal(1), bps, network)
    second = Decimal("0.5") + _fee(Decimal("0.5"), bps, network)  # 0.0005 x 1000 x 100%
    assert _kinds(result) == ["buy", "dca_buy"]
    assert _at(result, 1)["sol"] == str(second)
    assert result["final"]["sol_invested"] == str(first + second)
    assert result["final"]["tokens_held"] == "2000"
    # Stop loss disabled: no stop to report.
    assert (_at(result, 1)["stop_loss_percent"], _at(result, 1)["stop_price"]) == (None, None)


# --- Bad input --------------------------------------------------------------------------------------

GOOD = {"prices": _path("0.001", "0.0009")}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"config": {"stop_loss": {"default_percentage": 5}}},
            "config.stop_loss.default_percentage",
        ),
        ({"config": {"stop_loss": {"mode": "sideways"}}}, "config.stop_loss.mode"),
        ({"config": {"nonsense": 1}}, "config.nonsense"),
        ({"config": []}, "config"),
        ({"prices": []}, "prices"),
        ({"prices": None}, "prices"),
        ({"prices": "0.001"}, "prices"),
        ({"prices": ["0.001"]}, "prices[0]"),
        ({"prices": _path("0.001", "0.002", step=timedelta(0))}, "prices[1].t"),
        ({"prices": [*_path("0.001", "0.002"), {"t": _iso(T0), "price": "1"}]}, "prices[2].t"),
        ({"prices": _path("0.001", "-0.002")}, "prices[1].price"),
        ({"prices": _path("0.001", "0")}, "prices[1].price"),
        ({"prices": _path("0.001", "cheap")}, "prices[1].price"),
        ({"prices": _path("0.001", True)}, "prices[1].price"),
        ({"prices": _path("NaN")}, "prices[0].price"),
        ({"prices": _path("1e-31")}, "prices[0].price"),
        ({"prices": [{"t": "2026-01-01T00:00:00Z"}]}, "prices[0].price"),
        ({"prices": [{"t": "2026-01-01T00:00:00", "price": "0.001"}]}, "prices[0].t"),
        ({"prices": [{"t": "yesterday", "price": "0.001"}]}, "prices[0].t"),
        ({"prices": [{"t": 1767225600, "price": "0.001"}]}, "prices[0].t"),
        ({"prices": [{"t": _iso(T0), "price": "0.001", "volume": 5}]}, "prices[0].volume"),
        ({"buy_sol": "-1"}, "buy_sol"),
        ({"buy_sol": "0"}, "buy_sol"),
        ({"buy_sol": "lots"}, "buy_sol"),
        ({"buy_sol": True}, "buy_sol"),
        ({"buy_sol": "0.0000000001"}, "buy_sol"),  # less than a lamport
        ({"buy_sol": "1e12"}, "buy_sol"),
        ({"fees": "yes"}, "fees"),
        ({"fees": {"protocol_fee_bps": -1}}, "fees.protocol_fee_bps"),
        ({"fees": {"protocol_fee_bps": 2.5}}, "fees.protocol_fee_bps"),
        ({"fees": {"network_fee_lamports": "5000"}}, "fees.network_fee_lamports"),
        ({"fees": {"tip": 1}}, "fees.tip"),
        ({"nonsense": 1}, "nonsense"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_touches_nothing(
    api_client, user, changes, field, django_assert_num_queries
):
    with django_assert_num_queries(0):  # nothing read, nothing written
        response = _post(api_client, user, {**GOOD, **changes})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in [detail["field"] for detail in body["details"]]
    assert field in body["error"]


def test_every_bad_field_is_named_at_once(api_client, user):
    response = _post(
        api_client,
        user,
        {
            "config": {"stop_loss": {"default_percentage": 5}, "dca": {"max_dca_count": 0}},
            "buy_sol": "-1",
            "prices": [
                {"t": "2026-01-01T00:00:00", "price": "0.001"},
                {"t": "2026-01-01T00:01:00Z", "price": "-1"},
            ],
        },
    )
    assert response.status_code == 400
    assert {detail["field"] for detail in response.json()["details"]} == {
        "config.stop_loss.default_percentage",
        "config.dca.max_dca_count",
        "buy_sol",
        "prices[0].t",
        "prices[1].price",
    }


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"prices": [{"t": "2026-01-01T00:00:00Z", "price": 1e999999999}]}', "prices[0].price"),
        ('{"prices": [{"t": "2026-01-01T00:00:00Z", "price": -0.0}]}', "prices[0].price"),
        ('{"buy_sol": 1e-999999999, "prices": []}', "buy_sol"),
        (
            '{"fees": {"network_fee_lamports": 1e999999999}, "prices": []}',
            "fees.network_fee_lamports",
        ),
        ('{"prices": [', ""),
        ('{"prices": "' + "x" * (16 * 1024 * 1024) + '"}', ""),
    ],
)
def test_malformed_or_extreme_json_is_a_400_in_the_error_format(api_client, user, raw, field):
    api_client.force_authenticate(user)
    response = api_client.post(URL, raw, content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in [detail["field"] for detail in body["details"]]


def test_a_body_that_is_not_an_object_is_a_400(api_client, user):
    response = _post(api_client, user, ["0.001"])
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_thousands_of_bad_points_get_a_short_answer(api_client, user):
    prices = [{"t": "not a time", "price": "0.001"}] * 500
    response = _post(api_client, user, {"prices": prices})
    details = response.json()["details"]
    assert response.status_code == 400
    assert len(details) == 21
    assert details[-1]["message"] == "and 480 more problems"


def test_more_than_100000_points_is_a_400(api_client, user):
    prices = [{"t": "2026-01-01T00:00:00Z", "price": "1"}] * 100_001
    response = _post(api_client, user, {"prices": prices})
    assert response.status_code == 400
    assert response.json()["details"] == [
        {"field": "prices", "message": "must hold at most 100000 points"}
    ]


def test_a_buy_too_small_for_one_token_unit_is_a_400(api_client, user):
    response = _post(api_client, user, {"buy_sol": "0.000000001", "prices": _path("1000000000000")})
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "buy_sol"


# --- Access -------------------------------------------------------------------------------------------


def test_anonymous_callers_are_refused(api_client):
    response = api_client.post(URL, GOOD, format="json")
    assert response.status_code == 401


def test_an_api_key_needs_the_agents_scope(api_client, user):
    from agents.services import api_key_create

    _, signals_only = api_key_create(owner=user, name="signals", scopes=["signals"])
    _, agents = api_key_create(owner=user, name="agents", scopes=["agents"])
    refused = api_client.post(URL, GOOD, format="json", HTTP_X_API_KEY=signals_only)
    allowed = api_client.post(URL, GOOD, format="json", HTTP_X_API_KEY=agents)
    assert refused.status_code == 403
    assert allowed.status_code == 200


# --- The preview agrees with the live engine -----------------------------------------------------------

AGREEMENT_PATHS = {
    # DCA at -16% (average drops), take profit twice from the restarted batch with the moon
    # bag set aside, then the trailing stop sells what is left.
    "dca_ladder_stop": (
        {
            **NO_STALE,
            "stop_loss": {"default_percentage": -20},
            "take_profit": {
                "enabled": True,
                "mode": "custom",
                "levels": [
                    {"target_percent": 20, "sell_percent": 30},
                    {"target_percent": 50, "sell_percent": 30},
                ],
                "moon_bag": {"enabled": True, "trigger_percent": 50, "retain_percent": 10},
            },
            "dca": {
                "enabled": True,
                "mode": "custom",
                "levels": [{"drop_percent": -15, "buy_percent": 50}],
                "max_dca_count": 1,
            },
        },
        ["1", "0.84", "1.2", "1.5", "1.3"],
        ["buy", "dca_buy", "take_profit_sell", "take_profit_sell", "stop_loss_sell"],
        "stop_loss",
    ),
    "trailing_stop": (
        NO_STALE,
        ["1", "1.5", "1.45", "1.3"],
        ["buy", "stop_loss_sell"],
        "stop_loss",
    ),
    # Two levels selling 50% each and no moon bag: the second sale closes the position.
    "take_profit_to_the_end": (
        {
            **NO_STALE,
            "take_profit": {
                "enabled": True,
                "mode": "custom",
                "levels": [
                    {"target_percent": 20, "sell_percent": 50},
                    {"target_percent": 40, "sell_percent": 50},
                ],
                "moon_bag": {"enabled": False},
            },
        },
        ["1", "1.25", "1.5"],
        ["buy", "take_profit_sell", "take_profit_sell"],
        "take_profit",
    ),
}

_LIVE_EXIT_KINDS = {"stop_loss": "stop_loss_sell", "stale_trade": "stale_sell"}


def _live_kinds(position: Position) -> list[str]:
    """The kind of every trade the executor recorded for the position, in order."""
    kinds = []
    for entry in Transaction.objects.filter(position=position).order_by("pk"):
        if entry.is_dca:
            kinds.append("dca_buy")
        elif entry.is_take_profit:
            kinds.append("take_profit_sell")
        elif entry.output_mint == position.token_address:
            kinds.append("buy")
        else:
            kinds.append(_LIVE_EXIT_KINDS[position.close_reason])
    return kinds


@pytest.mark.parametrize("name", AGREEMENT_PATHS)
def test_preview_and_live_engine_take_the_same_actions(
    name,
    api_client,
    user,
    agent,
    funded_wallet,
    market,
    localnet,
    django_capture_on_commit_callbacks,
):
    config, multipliers, expected_kinds, expected_close = AGREEMENT_PATHS[name]
    base = Decimal("0.01")
    prices = [base * Decimal(m) for m in multipliers]
    api_client.force_authenticate(user)
    stored = api_client.put(f"/api/v1/agents/{agent.pk}/config", config, format="json")
    assert stored.status_code == 200, stored.json()

    token = market.add_token(
        symbol="PREV", price_sol=prices[0], decimals=6, liquidity_sol=Decimal("5000")
    )
    position = position_buy(
        agent=agent,
        wallet=funded_wallet,
        token_address=token,
        sol_amount=Decimal("1"),
        stop_loss_percent=Decimal(stored.json()["stop_loss"]["default_percentage"]),
    ).position
    for price in prices[1:]:
        market.set_price(token, price)
        with django_capture_on_commit_callbacks(execute=True):
            price_poll()
    position.refresh_from_db()

    preview = _preview(
        api_client, user, config=config, buy_sol="1", prices=_path(*(str(p) for p in prices))
    )
    assert _kinds(preview) == expected_kinds
    assert _live_kinds(position) == expected_kinds
    assert preview["final"]["close_reason"] == position.close_reason == expected_close
