"""The ledger's guarantees under random sequences of operations (trading-rules.md section 7).

Each example gives a fresh agent wallet a random sequence of deposits, withdrawals, buys,
partial take-profit sales, full sales, DCA buys and rug write-offs, on 1-3 tokens with 0..9
decimals whose prices move on the localnet market between steps. The real services run (they
quote localnet over HTTP). The test keeps its own model of what the wallet must hold, built
from the market's quotes (read over HTTP by the test itself) and the fee settings, and after
every step checks:

- every balance equals the model, to the last unit (SOL and each token);
- every balance equals what the wallet's Transaction rows say by their documented effects
  (DEPOSIT +input; WITHDRAWAL -input; SWAP -input +output; BURN -input);
- no balance is negative; a refused operation raises and writes nothing;
- each open position holds exactly the wallet's balance of its token; closed ones hold 0;
- the fees of every swap are the SIM_* formula applied to its SOL side.
"""

import itertools
import math
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction

import pytest
from django.conf import settings
from hypothesis import HealthCheck, Phase, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from agents.services import agent_create
from nexgent.http import ExternalServiceError
from tests.trading.ledger import (
    WSOL,
    ZERO,
    Snapshot,
    balances,
    check_swap_fees,
    ledger_effects,
    network_fee,
    nonzero,
    protocol_fee,
    quote,
    whole,
)
from trading.ledger_services import balance_deposit, balance_withdraw
from trading.models import ClosedTrade, Position, Transaction, TransactionType
from trading.services import (
    TradeRefused,
    position_buy,
    position_close,
    position_dca_buy,
    position_take_profit,
    position_write_off,
)

pytestmark = pytest.mark.django_db

STOP = Decimal("-30")
LEDGER_PLACES = Decimal("1e-18")
_agents = itertools.count(1)


def ledger_amount(value: Decimal) -> Decimal:
    """An amount as the ledger keeps it: 18 places, rounded down."""
    return value.quantize(LEDGER_PLACES, rounding=ROUND_DOWN)


def floor_units(amount: Decimal, decimals: int) -> int:
    """Whole raw units in `amount`, rounded down (a swap can only move whole units)."""
    return math.floor(Fraction(amount) * 10**decimals)


def ceil_units(amount: Decimal, decimals: int) -> int:
    """Whole raw units in `amount`, rounded up."""
    return math.ceil(Fraction(amount) * 10**decimals)


# --- The model ------------------------------------------------------------------------------


@dataclass
class ModelPosition:
    pk: int
    mint: str
    decimals: int
    remaining: Decimal
    bought: Decimal
    invested: Decimal
    received: Decimal = ZERO
    levels_hit: int = 0
    dca_count: int = 0
    moon_bag: Decimal | None = None  # set aside by a take-profit sale, never sold by one
    open: bool = True


@dataclass
class Model:
    holdings: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[str, ModelPosition] = field(default_factory=dict)  # latest per mint
    all_positions: list[ModelPosition] = field(default_factory=list)
    entries: int = 0
    closed: int = 0

    @property
    def sol(self) -> Decimal:
        return self.holdings.get(WSOL, ZERO)

    def add(self, mint: str, delta: Decimal) -> None:
        self.holdings[mint] = self.holdings.get(mint, ZERO) + delta
        assert self.holdings[mint] >= 0, "the model itself went negative"


@dataclass
class Token:
    mint: str
    decimals: int
    lowest_price: Decimal  # below it the pool would hold more raw units than we allow


# --- Strategies -----------------------------------------------------------------------------

# 1e-9 SOL (one lamport) up to 1e6 SOL; the ledger's smallest unit shows up in deposits too.
sol_amounts = st.one_of(
    st.integers(1, 1_000).map(lambda n: Decimal(n).scaleb(-9)),
    st.integers(1, 10**15).map(lambda n: Decimal(n).scaleb(-9)),
    st.integers(1, 10**24).map(lambda n: Decimal(n).scaleb(-18)),
)
# What an example starts with: enough to trade (dust amounts come with the steps).
openings = st.one_of(
    st.integers(1, 10**6).map(Decimal),
    st.integers(10**7, 10**15).map(lambda n: Decimal(n).scaleb(-9)),
)
# A replayed (stale) decision, one time in four.
stale = st.integers(0, 3).map(lambda n: n == 0)
# An absolute SOL amount, or a share (in permille) of what the model says the wallet holds.
spend = st.one_of(
    st.tuples(st.just("abs"), sol_amounts),
    st.tuples(st.just("share"), st.integers(1, 1_000)),
)
token_index = st.integers(0, 2)
take_profit = st.tuples(
    st.just("take_profit"),
    token_index,
    st.integers(1, 100),  # percent of the tokens bought
    st.booleans(),  # close_position
    st.integers(1, 3),  # levels reached by this batch
    stale,
    st.sampled_from([0, 0, 100, 333, 1000]),  # moon bag to set aside, permille of bought
)
dca = st.tuples(st.just("dca"), token_index, spend, stale)
operations = st.one_of(
    st.tuples(st.just("deposit"), sol_amounts),
    st.tuples(st.just("withdraw"), st.sampled_from(["share", "all", "over"]), st.integers(1, 999)),
    st.tuples(st.just("buy"), token_index, spend),
    take_profit,
    take_profit,
    st.tuples(st.just("close"), token_index),
    dca,
    dca,
    st.tuples(st.just("write_off"), token_index),
    st.tuples(st.just("move"), token_index, st.integers(100, 10_000)),  # x0.1 .. x10
)
# On-chain token amounts are u64 (< 1.8 x 10^19): a pool's whole token reserve, in raw units,
# stays within 10^17, so that even every step buying the same token still fits.
RAW_RESERVE_DIGITS = 17


def token(decimals: int, mantissa: int, exponent: int, liquidity_digits: int):
    """(decimals, price in SOL, pool liquidity in SOL); the price is raised where the pool would
    hold more raw units than a u64 can count."""
    exponent = min(exponent, RAW_RESERVE_DIGITS - decimals - liquidity_digits)
    return decimals, Decimal(mantissa).scaleb(-exponent), Decimal(10) ** liquidity_digits


tokens_spec = st.lists(
    st.builds(
        token,
        st.integers(0, 9),  # decimals
        st.integers(1, 999),  # price mantissa
        st.integers(5, 12),  # price exponent: 1e-12 .. 0.00999 SOL per token
        st.sampled_from([5, 7, 3, 1]),  # pool liquidity: 10^n SOL
    ),
    min_size=1,
    max_size=3,
)


# --- Steps ----------------------------------------------------------------------------------


class Run:
    def __init__(self, localnet, market, user, token_specs):
        self.localnet = localnet
        self.market = market
        self.agent = agent_create(owner=user, name=f"prop-{next(_agents)}")
        self.wallet = self.agent.wallets.get(mode="simulation")
        self.model = Model()
        self.tokens = []
        for decimals, price, liquidity in token_specs:
            mint = market.add_token(
                symbol=f"T{decimals}",
                price_sol=price,
                decimals=decimals,
                liquidity_sol=liquidity,
            )
            lowest = liquidity * Decimal(10) ** (decimals - RAW_RESERVE_DIGITS)
            self.tokens.append(Token(mint, decimals, lowest))

    def token(self, index: int) -> Token:
        return self.tokens[index % len(self.tokens)]

    def amount(self, spec) -> Decimal:
        kind, value = spec
        return value if kind == "abs" else self.model.sol * value / 1000

    # Outcomes

    def refused(self, call, code: str) -> None:
        before = Snapshot.take(self.wallet)
        with pytest.raises(TradeRefused) as refusal:
            call()
        assert refusal.value.code == code, refusal.value
        self.outcome = f"refused ({code})"
        assert Snapshot.take(self.wallet) == before, "a refused operation wrote something"

    def unquotable(self, call) -> None:
        """A swap the market prices at zero on either side has no usable quote: the operation
        fails before any write."""
        before = Snapshot.take(self.wallet)
        with pytest.raises(ExternalServiceError, match="zero amount"):
            call()
        self.outcome = "no quote"
        assert Snapshot.take(self.wallet) == before, "a failed operation wrote something"

    def no_op(self, call) -> None:
        before = Snapshot.take(self.wallet)
        assert call() is None
        self.outcome = "no-op"
        assert Snapshot.take(self.wallet) == before, "a no-op wrote something"

    def entry(self, key: str) -> Transaction:
        return Transaction.objects.get(idempotency_key=key)

    def sale_proceeds(self, token: Token, raw: int) -> Decimal | None:
        """SOL credited for selling `raw` units: SOL out - protocol fee - network fee; None when
        the market gives nothing for them."""
        sold_raw, out = quote(self.localnet, token.mint, WSOL, raw)
        assert sold_raw == raw
        if out == 0:
            return None
        return whole(out, 9) - protocol_fee(out) - network_fee()

    # Operations

    def deposit(self, amount: Decimal) -> None:
        entry = balance_deposit(wallet=self.wallet, amount=amount)
        assert (entry.type, entry.input_amount) == (TransactionType.DEPOSIT, amount)
        self.model.add(WSOL, amount)
        self.model.entries += 1

    def withdraw(self, kind: str, permille: int) -> None:
        sol = self.model.sol
        amount = {
            "share": ledger_amount(sol * permille / 1000),
            "all": sol,
            "over": sol + LEDGER_PLACES * permille,
        }[kind]
        if amount <= 0:
            return

        def call():
            return balance_withdraw(wallet=self.wallet, amount=amount)

        if amount > sol:
            self.refused(call, "insufficient_balance")
            return
        entry = call()
        assert (entry.type, entry.input_amount) == (TransactionType.WITHDRAWAL, amount)
        self.model.add(WSOL, -amount)
        self.model.entries += 1

    def buy(self, index: int, spec) -> None:
        token = self.token(index)
        in_lamports, out_raw = quote(
            self.localnet, WSOL, token.mint, floor_units(self.amount(spec), 9)
        )
        sol_amount = whole(in_lamports, 9)
        debit = sol_amount + protocol_fee(in_lamports) + network_fee()
        tokens = whole(out_raw, token.decimals)
        current = self.model.positions.get(token.mint)

        def call():
            return position_buy(
                agent=self.agent,
                wallet=self.wallet,
                token_address=token.mint,
                sol_amount=sol_amount,
                stop_loss_percent=STOP,
            )

        if in_lamports == 0 or out_raw == 0:
            self.unquotable(call)
            return
        if debit > self.model.sol:
            self.refused(call, "insufficient_balance")
            return
        if current is not None and current.open:
            self.refused(call, "position_exists")
            return
        result = call()
        entry = result.transaction
        assert (entry.input_mint, entry.input_amount) == (WSOL, debit)
        assert (entry.output_mint, entry.output_amount) == (token.mint, tokens)
        assert result.position.total_invested_sol == debit
        self.model.add(WSOL, -debit)
        self.model.add(token.mint, tokens)
        self.model.entries += 1
        position = ModelPosition(
            result.position.pk, token.mint, token.decimals, tokens, tokens, invested=debit
        )
        self.model.positions[token.mint] = position
        self.model.all_positions.append(position)

    def take_profit(self, index, percent, close_position, jump, stale, bag_permille) -> None:
        token = self.token(index)
        position = self.model.positions.get(token.mint)
        if position is None:
            return
        token_amount = position.bought * percent / 100
        expected_levels = position.levels_hit + (1 if stale else 0)
        activate = bool(bag_permille) and position.moon_bag is None
        new_bag = ledger_amount(min(position.bought * bag_permille / 1000, position.remaining))

        def call():
            return position_take_profit(
                position_id=position.pk,
                token_amount=token_amount,
                expected_levels_hit=expected_levels,
                new_levels_hit=expected_levels + jump,
                activate_moon_bag=activate,
                moon_bag_amount=new_bag if activate else ZERO,
                close_position=close_position,
            )

        if not position.open or stale:
            self.no_op(call)
            return
        # A swap sells whole raw units: the decided amount rounded up, but never into the moon
        # bag (whole units of it are kept) and never more than remains.
        remaining_raw = floor_units(position.remaining, token.decimals)
        if close_position:
            raw = remaining_raw
        else:
            bag = new_bag if activate else (position.moon_bag or ZERO)
            wanted = ceil_units(ledger_amount(token_amount), token.decimals)
            raw = min(wanted, remaining_raw - ceil_units(bag, token.decimals))
        if raw <= 0:
            self.no_op(call)  # nothing to sell beyond the moon bag
            return
        sold = whole(raw, token.decimals)
        net = self.sale_proceeds(token, raw)
        if net is None:
            self.unquotable(call)
            return
        if self.model.sol + net < 0:
            self.refused(call, "insufficient_balance")  # the fees exceed the proceeds
            return
        entry = call()
        assert entry is not None and entry.is_take_profit
        assert (entry.input_mint, entry.input_amount) == (token.mint, sold)
        assert (entry.output_mint, entry.output_amount) == (WSOL, net)
        self.model.add(token.mint, -sold)
        self.model.add(WSOL, net)
        self.model.entries += 1
        position.remaining -= sold
        position.received += net
        position.levels_hit = expected_levels + jump
        if activate:
            position.moon_bag = new_bag
        if position.remaining == 0:
            self.closed(position, "take_profit")

    def close(self, index: int) -> None:
        token = self.token(index)
        position = self.model.positions.get(token.mint)
        if position is None:
            return

        def call():
            return position_close(position_id=position.pk, reason="manual")

        if not position.open:
            self.no_op(call)
            return
        raw = floor_units(position.remaining, token.decimals)
        assert whole(raw, token.decimals) == position.remaining
        net = self.sale_proceeds(token, raw)
        if net is None:
            self.unquotable(call)
            return
        if self.model.sol + net < 0:
            self.refused(call, "insufficient_balance")
            return
        assert call() is not None
        entry = self.entry(f"close:{position.pk}")
        assert (entry.input_mint, entry.input_amount) == (token.mint, position.remaining)
        assert (entry.output_mint, entry.output_amount) == (WSOL, net)
        self.model.add(token.mint, -position.remaining)
        self.model.add(WSOL, net)
        self.model.entries += 1
        position.remaining = ZERO
        position.received += net
        self.closed(position, "manual")

    def dca(self, index: int, spec, stale: bool) -> None:
        token = self.token(index)
        position = self.model.positions.get(token.mint)
        if position is None:
            return
        sol_amount = self.amount(spec)
        expected_count = position.dca_count + (1 if stale else 0)

        def call():
            return position_dca_buy(
                position_id=position.pk,
                sol_amount=sol_amount,
                expected_dca_count=expected_count,
                take_profit_levels=3,
            )

        if not position.open or stale:
            self.no_op(call)
            return
        # The largest swap the balance covers with both fees on top, in ledger units: the DCA
        # buy shrinks to it and never spends SOL the wallet does not have.
        rate = Fraction(10_000 + settings.SIM_PROTOCOL_FEE_BPS, 10_000)
        headroom = max(Fraction(self.model.sol - network_fee()) / rate, Fraction(0))
        affordable = whole(int(headroom * 10**18), 18)
        swap = min(ledger_amount(sol_amount), affordable)
        if swap <= 0:
            self.no_op(call)
            return
        in_lamports, out_raw = quote(self.localnet, WSOL, token.mint, floor_units(swap, 9))
        debit = whole(in_lamports, 9) + protocol_fee(in_lamports) + network_fee()
        tokens = whole(out_raw, token.decimals)
        if in_lamports == 0 or out_raw == 0:
            self.unquotable(call)
            return
        assert debit <= self.model.sol
        entry = call()
        assert entry is not None and entry.is_dca
        assert (entry.input_mint, entry.input_amount) == (WSOL, debit)
        assert (entry.output_mint, entry.output_amount) == (token.mint, tokens)
        self.model.add(WSOL, -debit)
        self.model.add(token.mint, tokens)
        self.model.entries += 1
        position.remaining += tokens
        position.bought += tokens
        position.invested += debit
        position.dca_count += 1

    def write_off(self, index: int) -> None:
        token = self.token(index)
        position = self.model.positions.get(token.mint)
        if position is None:
            return

        def call():
            return position_write_off(position_id=position.pk)

        if not position.open:
            self.no_op(call)
            return
        assert call() is not None
        entry = self.entry(f"close:{position.pk}")
        assert (entry.type, entry.input_amount) == (TransactionType.BURN, position.remaining)
        self.model.add(token.mint, -position.remaining)
        self.model.entries += 1
        position.remaining = ZERO
        self.closed(position, "rug_pull")

    def closed(self, position: ModelPosition, reason: str) -> None:
        """The position just closed: its trade records the whole cash flow (take-profit sales
        included) against everything invested (DCA buys included)."""
        position.open = False
        self.model.closed += 1
        trade = ClosedTrade.objects.get(position_id=position.pk)
        assert trade.close_reason == reason
        assert (trade.invested_sol, trade.received_sol) == (position.invested, position.received)
        assert trade.profit_loss_sol == position.received - position.invested
        assert trade.tokens_bought == position.bought

    def move(self, index: int, permille: int) -> None:
        token = self.token(index)
        price = self.market.price_sol(token.mint) * permille / 1000
        self.market.set_price(token.mint, max(price, token.lowest_price).normalize())

    def apply(self, operation) -> None:
        name, *args = operation
        entries = self.model.entries
        self.outcome = "skipped"
        getattr(self, name)(*args)
        event(f"{name}: {'written' if self.model.entries > entries else self.outcome}")

    # Invariants

    def check(self) -> None:
        held = balances(self.wallet)
        assert all(amount >= 0 for amount in held.values()), held
        assert nonzero(held) == nonzero(self.model.holdings), "balances differ from the model"
        assert nonzero(ledger_effects(self.wallet)) == nonzero(held), (
            "balances differ from the sum of the transactions' effects"
        )
        rows = {p.pk: p for p in Position.objects.filter(wallet=self.wallet)}
        assert len(rows) == len(self.model.all_positions)
        open_mints = [p.token_address for p in rows.values() if p.status == "open"]
        assert len(open_mints) == len(set(open_mints)), "two open positions in one token"
        for expected in self.model.all_positions:
            row = rows[expected.pk]
            assert row.status == ("open" if expected.open else "closed")
            assert row.remaining_amount == expected.remaining
            if expected.open:
                assert row.remaining_amount == held.get(expected.mint, ZERO)
                assert (row.take_profit_levels_hit, row.dca_count) == (
                    expected.levels_hit,
                    expected.dca_count,
                )
                assert row.total_tokens_bought == expected.bought
                assert row.total_invested_sol == expected.invested
                assert row.realized_sol == expected.received
                assert (row.moon_bag_activated, row.moon_bag_amount) == (
                    expected.moon_bag is not None,
                    expected.moon_bag or ZERO,
                )
            else:
                assert row.remaining_amount == 0
        assert Transaction.objects.filter(wallet=self.wallet).count() == self.model.entries
        assert ClosedTrade.objects.filter(wallet=self.wallet).count() == self.model.closed

    def check_fees(self) -> None:
        for entry in Transaction.objects.filter(wallet=self.wallet, type=TransactionType.SWAP):
            check_swap_fees(entry)


@pytest.fixture
def request_budget(settings):
    """Every example lists new tokens, whose decimals come from Jupiter's price API, and
    shrinking a failure replays hundreds of examples: our own request budget is not under test
    here and must not be what fails."""
    settings.JUPITER_PRICE_REQUESTS_PER_MINUTE = 1_000_000


# Shrinking a failure replays whole sequences over HTTP and can take minutes: give it room.
@pytest.mark.timeout(900)
@pytest.mark.usefixtures("request_budget")
@hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
@given(
    token_specs=tokens_spec,
    opening=openings,
    first_buys=st.lists(st.integers(20, 400), min_size=3, max_size=3),
    steps=st.lists(operations, min_size=3, max_size=14),
)
def test_ledger_is_exact_whatever_the_sequence(
    localnet, market, user, token_specs, opening, first_buys, steps
):
    run = Run(localnet, market, user, token_specs)
    run.deposit(opening)
    run.check()
    # Each token is bought first (a share of the wallet, in permille), so that the random steps
    # that follow mostly act on open positions.
    first = [("buy", index, ("share", share)) for index, share in enumerate(first_buys)]
    for operation in first[: len(run.tokens)] + steps:
        run.apply(operation)
        run.check()
    run.check_fees()
