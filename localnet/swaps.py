"""The transactions localnet's Jupiter builds: a real swap between a wallet and a token's pool
account on the chain (localnet.svm), for the wallet to sign and send.

A buy moves the quoted SOL from the user to the pool (System transfer) and the quoted tokens
from the pool to the user's associated token account (SPL TransferChecked, created first if
missing); a sell the reverse. The pool signs its own legs when the transaction is built; the
user's signature slot is left zeroed for the engine. The last instruction is the swap's
minimum-out check: a Memo program instruction that names the bound, and a SwapCheck the chain
runs when the transaction executes (see Chain._fail_slippage for how a failure is written).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from solders import compute_budget, system_program
from solders.instruction import Instruction
from solders.message import MessageV0
from solders.null_signer import NullSigner
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from localnet import spl
from localnet.svm import Chain, SwapCheck

# What our transactions use is about 20,000 compute units (an ATA creation dominates); the
# limit leaves room as Jupiter's simulated limit does.
COMPUTE_UNIT_LIMIT = 80_000
# Jupiter's "auto" priority, in micro-lamports per compute unit.
DEFAULT_COMPUTE_UNIT_PRICE = 50_000
PRIORITY_LEVEL_PRICES = {"medium": 25_000, "high": 50_000, "veryHigh": 100_000}
MICRO_LAMPORTS = 1_000_000


@dataclass(frozen=True)
class SwapPlan:
    """A quote as the chain executes it: the mints, raw amounts and the slippage bound."""

    input_mint: str
    output_mint: str
    token: Pubkey
    selling: bool
    in_amount: int
    out_amount: int
    threshold: int  # ExactIn: minimum out; ExactOut: maximum in
    swap_mode: str
    slippage_bps: int

    @classmethod
    def from_quote(cls, quote: dict[str, Any], wsol_mint: str) -> "SwapPlan":
        """ValueError if the quote is not a SOL pair with integer amounts."""
        input_mint, output_mint = str(quote["inputMint"]), str(quote["outputMint"])
        if wsol_mint not in (input_mint, output_mint) or input_mint == output_mint:
            raise ValueError("not a SOL pair")
        selling = output_mint == wsol_mint
        amounts = [
            int(str(quote[name])) for name in ("inAmount", "outAmount", "otherAmountThreshold")
        ]
        if min(amounts) < 0:
            raise ValueError("negative amount")
        return cls(
            input_mint=input_mint,
            output_mint=output_mint,
            token=Pubkey.from_string(input_mint if selling else output_mint),
            selling=selling,
            in_amount=amounts[0],
            out_amount=amounts[1],
            threshold=amounts[2],
            swap_mode=str(quote.get("swapMode", "ExactIn")),
            slippage_bps=int(quote.get("slippageBps", 0)),
        )

    @property
    def lamports(self) -> int:
        return self.out_amount if self.selling else self.in_amount

    @property
    def tokens(self) -> int:
        return self.in_amount if self.selling else self.out_amount


def priority_fee_lamports(compute_unit_price: int) -> int:
    """What the compute-unit price costs at our limit, rounded up as the runtime does."""
    return -(-compute_unit_price * COMPUTE_UNIT_LIMIT // MICRO_LAMPORTS)


def build_swap(
    chain: Chain,
    *,
    user: Pubkey,
    plan: SwapPlan,
    still_fills: Callable[[], bool],
    compute_unit_price: int,
) -> tuple[VersionedTransaction, int]:
    """The swap, signed by the pool, and its blockhash's lastValidBlockHeight."""
    pool = chain.pool(plan.token)
    decimals = chain.mint_decimals(plan.token)
    if decimals is None:
        raise ValueError(f"{plan.token} is not a mint on the chain")
    user_tokens = spl.associated_address(user, plan.token)
    pool_tokens = spl.associated_address(pool.pubkey(), plan.token)
    if plan.selling:
        legs = [
            spl.transfer_checked(
                source=user_tokens,
                mint=plan.token,
                destination=pool_tokens,
                owner=user,
                amount=plan.tokens,
                decimals=decimals,
            ),
            system_program.transfer(
                {"from_pubkey": pool.pubkey(), "to_pubkey": user, "lamports": plan.lamports}
            ),
        ]
    else:
        legs = [
            system_program.transfer(
                {"from_pubkey": user, "to_pubkey": pool.pubkey(), "lamports": plan.lamports}
            ),
            spl.transfer_checked(
                source=pool_tokens,
                mint=plan.token,
                destination=user_tokens,
                owner=pool.pubkey(),
                amount=plan.tokens,
                decimals=decimals,
            ),
        ]
    instructions: list[Instruction] = [
        compute_budget.set_compute_unit_limit(COMPUTE_UNIT_LIMIT),
        compute_budget.set_compute_unit_price(compute_unit_price),
        spl.create_associated_idempotent(user, user, plan.token),
        *legs,
    ]
    bound = "min out" if plan.swap_mode == "ExactIn" else "max in"
    instructions.append(spl.memo(f"localnet swap: {bound} {plan.threshold}"))
    blockhash, last_valid = chain.latest_blockhash()
    message = MessageV0.try_compile(user, instructions, [], blockhash)
    # The user's slot stays zeroed (NullSigner) for the engine to fill in.
    transaction = VersionedTransaction(message, [NullSigner(user), pool])
    chain.expect_swap(
        transaction, SwapCheck(len(instructions) - 1, spl.MEMO_PROGRAM_ID, still_fills)
    )
    return transaction, last_valid
