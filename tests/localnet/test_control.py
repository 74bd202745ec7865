"""The /_localnet/ control routes that demos and other processes use to drive the market."""

from decimal import Decimal

from solders.pubkey import Pubkey

from tests.localnet.support import SOL_USD_FEED, WSOL


def test_state_lists_tokens_with_decimals_as_strings(get, token):
    state = get("/_localnet/state").json()

    assert state["sol_usd"] == "150"
    assert isinstance(state["slot"], int)
    assert state["tokens"] == [
        {
            "mint": token,
            "symbol": "TEST",
            "name": "Test Token",
            "decimals": 6,
            "price_sol": "0.001",
            "liquidity_sol": "500",
            "routable": True,
        }
    ]


def test_post_price_moves_every_service(get, post, market, token):
    response = post("/_localnet/price", {"mint": token, "price_sol": "0.0025"})

    assert response.status_code == 200
    assert response.json()["price_sol"] == "0.0025"
    assert market.price_sol(token) == Decimal("0.0025")
    assert get("/price/v3", {"ids": token}).json()[token]["usdPrice"] == 0.375
    pairs = get(f"/tokens/v1/solana/{token}").json()
    assert {pair["priceNative"] for pair in pairs if pair["baseToken"]["address"] == token} == {
        "0.0025"
    }


def test_post_sol_usd_moves_hermes(get, post):
    assert post("/_localnet/sol_usd", {"price": "201.5"}).json() == {"sol_usd": "201.5"}

    (update,) = get("/v2/updates/price/latest", {"ids[]": SOL_USD_FEED}).json()["parsed"]
    assert update["price"]["price"] == "20150000000"


def test_post_token_lists_a_tradable_token(get, post, market):
    response = post(
        "/_localnet/token", {"symbol": "NEW", "price_sol": "0.02", "liquidity_sol": "80"}
    )

    assert response.status_code == 201
    mint = response.json()["mint"]
    assert Pubkey.from_string(mint)
    assert market.token(mint).liquidity_sol == Decimal("80")
    quote = get("/swap/v1/quote", {"inputMint": WSOL, "outputMint": mint, "amount": 10**8})
    assert quote.status_code == 200


def test_post_token_keeps_a_chosen_mint(post, market):
    chosen = str(Pubkey.new_unique())
    response = post(
        "/_localnet/token", {"symbol": "MINE", "price_sol": "1", "mint": chosen, "decimals": 9}
    )

    assert response.json()["mint"] == chosen
    assert market.token(chosen).decimals == 9


def test_post_rug_drops_the_price_and_the_route(get, post, token):
    assert post("/_localnet/rug", {"mint": token}).json()["routable"] is False

    assert get("/price/v3", {"ids": token}).json() == {}
    quote = get("/swap/v1/quote", {"inputMint": token, "outputMint": WSOL, "amount": 10**6})
    assert quote.json()["errorCode"] == "COULD_NOT_FIND_ANY_ROUTE"


def test_post_liquidity_restores_a_rugged_pool(get, post, token):
    post("/_localnet/rug", {"mint": token})
    post("/_localnet/liquidity", {"mint": token, "liquidity_sol": "300"})

    assert list(get("/price/v3", {"ids": token}).json()) == [token]


def test_post_fault_and_delay_arm_the_market(get, post, token):
    fault = post("/_localnet/fault", {"service": "jupiter_price", "status": 502, "count": 2})
    delay = post("/_localnet/delay", {"service": "hermes", "seconds": "0.01"})

    assert fault.json() == {"service": "jupiter_price", "status": 502, "count": 2}
    assert delay.json() == {"service": "hermes", "seconds": "0.01", "count": 1}
    assert [get("/price/v3", {"ids": token}).status_code for _ in range(3)] == [502, 502, 200]
    assert get("/v2/updates/price/latest", {"ids[]": SOL_USD_FEED}).status_code == 200


def test_bad_input_is_400_and_unknown_mint_is_404(post, token):
    unknown = str(Pubkey.new_unique())

    assert post("/_localnet/price", {"mint": token, "price_sol": "-1"}).status_code == 400
    assert post("/_localnet/price", {"mint": token}).status_code == 400
    assert post("/_localnet/price", {"mint": unknown, "price_sol": "1"}).status_code == 404
    assert (
        post("/_localnet/token", {"symbol": "X", "price_sol": "1", "mint": "nope"}).status_code
        == 400
    )
    assert post("/_localnet/fault", {"service": "nowhere", "status": 500}).status_code == 400
    assert post("/_localnet/fault", {"service": "hermes", "status": "500"}).status_code == 400
    assert post("/_localnet/sol_usd", ["150"]).status_code == 400


def test_json_numbers_are_read_exactly(post, market, token):
    post("/_localnet/price", {"mint": token, "price_sol": 0.1})

    # Parsed as a Decimal, not through a float: 0.1 stays 0.1.
    assert market.price_sol(token) == Decimal("0.1")


def test_unknown_path_is_404_and_wrong_method_405(get, post):
    assert get("/nowhere").status_code == 404
    assert post("/swap/v1/quote", {}).status_code == 405
    assert get("/_localnet/price").status_code == 405
