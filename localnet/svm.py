"""localnet's chain: a real Solana VM (solders' LiteSVM) behind a mainnet-like slot clock.

LiteSVM executes transactions for real (ed25519 signatures verified, the SPL Token, ATA, Memo
and System programs run) but it has no blocks: it accepts a transaction against one blockhash
and commits it at once. Chain adds what a client of a real cluster sees around that:

- slots that pass in real time (400 ms by default) or when a test advances them, one block per
  slot (no skipped slots: block height is the slot less a fixed offset);
- a blockhash per slot, valid for BLOCKHASH_VALIDITY blocks, checked here (LiteSVM's own check
  knows only its latest hash);
- a sent transaction waits for the next slot to land, then is processed, confirmed one slot
  later and finalized FINALIZATION_DEPTH slots later; one whose blockhash expired before it
  lands, whose signatures do not verify (sent without preflight) or that cannot pay its fee
  never lands, as a real leader drops it;
- pre/post SOL and token balances of every landed transaction, for getTransaction.

Work happens lazily: whoever asks the chain anything first lands the transactions whose slot
has come, in the order they arrived. One lock guards the VM and the records; the HTTP server's
threads and a test's thread use the chain at the same time.
"""

import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from solders.account import Account
from solders.hash import Hash
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.token.state import Mint, TokenAccount
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata
from solders.transaction_status import (
    TransactionErrorInstructionError,
    TransactionStatus,
)

from localnet import spl

SLOT_SECONDS = 0.4
GENESIS_SLOT = 300_000_000
# Mainnet's block height trails its slot (skipped slots); a fixed gap keeps the two apart so a
# client that mixes them up fails here too.
GENESIS_BLOCK_HEIGHT = 280_000_000
# A blockhash is usable for 150 blocks after its own (MAX_PROCESSING_AGE): about 60 s.
BLOCKHASH_VALIDITY = 150
CONFIRMATION_DEPTH = 1
FINALIZATION_DEPTH = 32
# Enough lamports in LiteSVM's airdrop account for every pool and wallet a session funds.
FAUCET_LAMPORTS = 10**18
SLIPPAGE_EXCEEDED = 6001
TOKEN_PROGRAM = str(spl.TOKEN_PROGRAM_ID)


class SlotClock:
    """Slots passing every `slot_seconds` of `clock`, plus any a test adds with advance().
    With slot_seconds None only advance() moves the chain: fully deterministic tests."""

    def __init__(
        self,
        slot_seconds: float | None = SLOT_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        genesis: int = GENESIS_SLOT,
    ):
        self._lock = threading.Lock()
        self._clock = clock
        self._base = genesis
        self._since = clock()
        self._slot_seconds = self._checked(slot_seconds)

    @staticmethod
    def _checked(seconds: float | None) -> float | None:
        if seconds is not None and not seconds > 0:
            raise ValueError(f"a slot time must be positive or None, got {seconds}")
        return seconds

    def _elapsed_slots(self) -> int:
        if self._slot_seconds is None:
            return 0
        return int((self._clock() - self._since) / self._slot_seconds)

    def slot(self) -> int:
        with self._lock:
            return self._base + self._elapsed_slots()

    @property
    def slot_seconds(self) -> float | None:
        return self._slot_seconds

    def set_slot_seconds(self, seconds: float | None) -> None:
        """A new pace from now on; the slots already passed stay passed."""
        seconds = self._checked(seconds)
        with self._lock:
            self._base += self._elapsed_slots()
            self._since = self._clock()
            self._slot_seconds = seconds

    def advance(self, slots: int = 1) -> int:
        if slots < 0:
            raise ValueError(f"slots only go forward, got {slots}")
        with self._lock:
            self._base += slots
            return self._base + self._elapsed_slots()


def block_height(slot: int) -> int:
    return slot - (GENESIS_SLOT - GENESIS_BLOCK_HEIGHT)


def error_json(err) -> Any:
    """A solders TransactionError as the RPC writes it, e.g. {"InstructionError":[3,{"Custom":1}]}."""
    return json.loads(TransactionStatus(0, err=err).to_json())["err"]


# The Display text of the TransactionErrors a client meets (solana-sdk transaction-error).
_ERROR_TEXT = {
    "BlockhashNotFound": "Blockhash not found",
    "AccountNotFound": "Attempt to debit an account but found no record of a prior credit.",
    "InsufficientFundsForFee": "Insufficient funds for fee",
    "AlreadyProcessed": "This transaction has already been processed",
    "SignatureFailure": "Transaction did not pass signature verification",
}


def error_text(err: Any) -> str:
    if isinstance(err, str):
        return _ERROR_TEXT.get(err, err)
    if isinstance(err, dict) and "InstructionError" in err:
        index, detail = err["InstructionError"]
        if isinstance(detail, dict) and "Custom" in detail:
            return (
                f"Error processing Instruction {index}: custom program error: {detail['Custom']:#x}"
            )
        return f"Error processing Instruction {index}: {detail}"
    return str(err)


def slippage_error(index: int) -> dict:
    return {"InstructionError": [index, {"Custom": SLIPPAGE_EXCEEDED}]}


def _slippage_logs(program: Pubkey) -> list[str]:
    # What Jupiter's Anchor program logs when its minimum-out check fails.
    return [
        f"Program {program} invoke [1]",
        "Program log: AnchorError occurred. Error Code: SlippageToleranceExceeded. "
        f"Error Number: {SLIPPAGE_EXCEEDED}. Error Message: Slippage tolerance exceeded.",
        f"Program {program} failed: custom program error: {SLIPPAGE_EXCEEDED:#x}",
    ]


class PreflightFailure(Exception):
    """sendTransaction's simulation failed: the RPC answers -32002 with these details."""

    def __init__(self, err: Any, logs: list[str], units: int):
        super().__init__(f"Transaction simulation failed: {error_text(err)}")
        self.err, self.logs, self.units = err, logs, units


class SignatureVerificationFailure(Exception):
    """sendTransaction's preflight found a signature that does not verify (-32003)."""


class TokenAmount(NamedTuple):
    amount: int
    decimals: int


@dataclass(frozen=True)
class TokenBalance:
    account_index: int
    mint: str
    owner: str
    amount: TokenAmount


@dataclass(frozen=True)
class Landed:
    """A transaction included in a block, successful or not, with what it changed."""

    signature: Signature
    slot: int
    transaction: VersionedTransaction
    err: Any  # the RPC's JSON form of the TransactionError, None on success
    fee: int
    logs: list[str]
    units: int
    pre_balances: list[int]
    post_balances: list[int]
    pre_token_balances: list[TokenBalance]
    post_token_balances: list[TokenBalance]
    block_time: int


@dataclass(frozen=True)
class SwapCheck:
    """A swap's minimum-out check: the instruction that carries it, and whether the pool can
    still fill the quote at the current price. The check runs when the transaction executes
    (landing, simulation or preflight) and fails it with Jupiter's 6001 when it cannot."""

    instruction_index: int
    program: Pubkey
    holds: Callable[[], bool]


@dataclass
class _Pending:
    transaction: VersionedTransaction
    landing_slot: int
    lands: bool


@dataclass
class _Faults:
    never_lands: int = 0
    slippage: int = 0
    preflight: deque = field(default_factory=deque)


class Chain:
    def __init__(self, clock: SlotClock, *, seed: int = 0):
        self._lock = threading.RLock()
        self.clock = clock
        self._seed = seed
        # Blockhashes are kept here (a window per slot), so LiteSVM's single-hash check is off.
        self._svm = LiteSVM().with_blockhash_check(False).with_lamports(FAUCET_LAMPORTS)
        # Mint authority and payer of the listing transactions.
        self.authority = self._keypair("authority")
        self._svm.airdrop(self.authority.pubkey(), 10**12)
        self._issued: dict[Hash, int] = {}
        self._pending: list[_Pending] = []
        self._received: set[Signature] = set()
        self._landed: dict[Signature, Landed] = {}
        self._checks: dict[bytes, SwapCheck] = {}
        self._pools: dict[Pubkey, Keypair] = {}
        self._faults = _Faults()

    def _keypair(self, purpose: str) -> Keypair:
        return Keypair.from_seed(hashlib.sha256(f"{self._seed}:{purpose}".encode()).digest())

    # The clock

    def slot(self) -> int:
        return self.clock.slot()

    def block_height(self) -> int:
        return block_height(self.clock.slot())

    def advance(self, slots: int = 1) -> int:
        """Let `slots` slots pass now; transactions due land."""
        slot = self.clock.advance(slots)
        with self._lock:
            self._catch_up()
        return slot

    def latest_blockhash(self) -> tuple[Hash, int]:
        """The current slot's blockhash and the last block height at which it is valid."""
        with self._lock:
            self._catch_up()
            slot = self.slot()
            blockhash = Hash(hashlib.sha256(f"{self._seed}:blockhash:{slot}".encode()).digest())
            self._issued[blockhash] = slot
            height = block_height(slot)
            for old, issued_at in list(self._issued.items()):
                if block_height(issued_at) + BLOCKHASH_VALIDITY < height:
                    del self._issued[old]
            return blockhash, height + BLOCKHASH_VALIDITY

    def _blockhash_valid(self, transaction: VersionedTransaction, slot: int) -> bool:
        issued_at = self._issued.get(transaction.message.recent_blockhash)
        if issued_at is None:
            return False
        return (
            block_height(issued_at)
            <= block_height(slot)
            <= (block_height(issued_at) + BLOCKHASH_VALIDITY)
        )

    # Faults

    def inject_never_lands(self, count: int = 1) -> None:
        """The next `count` transactions sent are accepted and never land."""
        with self._lock:
            self._faults.never_lands += _count(count)

    def inject_slippage(self, count: int = 1) -> None:
        """The next `count` localnet swaps that execute fail their minimum-out check (6001),
        as if the price had moved beyond their slippage."""
        with self._lock:
            self._faults.slippage += _count(count)

    def inject_preflight_failure(self, count: int = 1, err: Any = None) -> None:
        """The next `count` preflight simulations fail with `err` (the RPC's JSON form; by
        default a slippage failure of instruction 3, the common one on Jupiter swaps)."""
        with self._lock:
            self._faults.preflight.extend([err or slippage_error(3)] * _count(count))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults = _Faults()

    # Accounts

    def fund(self, address: Pubkey, lamports: int) -> Signature:
        """An airdrop: a real transfer from LiteSVM's faucet account."""
        with self._lock:
            self._catch_up()
            result = self._svm.airdrop(address, lamports)
            if isinstance(result, FailedTransactionMetadata):
                raise ValueError(f"airdrop failed: {error_text(error_json(result.err()))}")
            return result.signature()

    def account(self, address: Pubkey) -> Account | None:
        with self._lock:
            self._catch_up()
            return self._svm.get_account(address)

    def balance(self, address: Pubkey) -> int:
        with self._lock:
            self._catch_up()
            return self._svm.get_balance(address) or 0

    def mint_decimals(self, mint: Pubkey) -> int | None:
        with self._lock:
            account = self._svm.get_account(mint)
        if account is None or str(account.owner) != TOKEN_PROGRAM or len(account.data) < 82:
            return None
        return Mint.from_bytes(bytes(account.data)[: spl.MINT_LEN]).decimals

    def token_accounts(
        self, owner: Pubkey, *, mint: Pubkey | None = None
    ) -> list[tuple[Pubkey, Account, TokenAccount]]:
        """owner's SPL token accounts (of one mint if given)."""
        with self._lock:
            self._catch_up()
            accounts = self._svm.get_program_accounts(spl.TOKEN_PROGRAM_ID)
        found = []
        for address, account in accounts:
            if len(account.data) != spl.TOKEN_ACCOUNT_LEN:
                continue
            parsed = TokenAccount.from_bytes(bytes(account.data))
            if parsed.owner == owner and (mint is None or parsed.mint == mint):
                found.append((address, account, parsed))
        return sorted(found, key=lambda item: str(item[0]))

    def token_amount(self, address: Pubkey) -> TokenAmount | None:
        """A token account's balance; None if there is no token account there."""
        with self._lock:
            self._catch_up()
            return self._token_amount(self._svm.get_account(address))

    def _token_amount(self, account: Account | None) -> TokenAmount | None:
        if account is None or str(account.owner) != TOKEN_PROGRAM:
            return None
        if len(account.data) != spl.TOKEN_ACCOUNT_LEN:
            return None
        parsed = TokenAccount.from_bytes(bytes(account.data))
        return TokenAmount(parsed.amount, self.mint_decimals(parsed.mint) or 0)

    # Tokens and pools

    def list_token(self, mint: Pubkey, *, decimals: int, pool_tokens: int, pool_lamports: int):
        """A real SPL mint with its decimals, and a pool account holding SOL and the tokens.
        Idempotent. The mint account is written directly because a token may be listed at an
        address localnet holds no key for (a real mainnet mint); the pool's token account and
        its tokens come from real ATA and MintTo instructions."""
        with self._lock:
            if mint in self._pools:
                return self._pools[mint]
            self._catch_up()
            pool = self._keypair(f"pool:{mint}")
            data = bytes(Mint(self.authority.pubkey(), 0, decimals, True, None))
            rent = self._svm.minimum_balance_for_rent_exemption(spl.MINT_LEN)
            self._svm.set_account(mint, Account(rent, data, spl.TOKEN_PROGRAM_ID, False, 0))
            # A system account below the rent-exempt minimum cannot receive a transfer.
            self._svm.airdrop(pool.pubkey(), max(pool_lamports, rent))
            payer = self.authority.pubkey()
            instructions = [
                spl.create_associated_idempotent(payer, pool.pubkey(), mint),
                spl.mint_to(mint, spl.associated_address(pool.pubkey(), mint), payer, pool_tokens),
            ]
            message = MessageV0.try_compile(payer, instructions, [], self._svm.latest_blockhash())
            result = self._svm.send_transaction(VersionedTransaction(message, [self.authority]))
            if isinstance(result, FailedTransactionMetadata):
                raise RuntimeError(f"listing {mint} failed: {result.err()}")
            self._pools[mint] = pool
            return pool

    def pool(self, mint: Pubkey) -> Keypair:
        with self._lock:
            return self._pools[mint]

    def expect_swap(self, transaction: VersionedTransaction, check: SwapCheck) -> None:
        """Run `check` whenever this transaction's message executes."""
        with self._lock:
            self._checks[_message_key(transaction)] = check

    # Sending, simulating, landing

    def send(self, transaction: VersionedTransaction, *, preflight: bool = True) -> Signature:
        """Accept a signed transaction; it lands at the next slot. With preflight, refuse it
        as the RPC does when its signatures or its simulation fail."""
        signature = transaction.signatures[0]
        with self._lock:
            self._catch_up()
            if preflight:
                if signature in self._landed:
                    raise PreflightFailure("AlreadyProcessed", [], 0)
                if not all(transaction.verify_with_results()):
                    raise SignatureVerificationFailure()
                if self._faults.preflight:
                    raise PreflightFailure(self._faults.preflight.popleft(), [], 0)
                outcome = self._simulate(transaction, self.slot())
                if outcome.err is not None:
                    raise PreflightFailure(outcome.err, outcome.logs, outcome.units)
            if signature in self._received:
                return signature
            self._received.add(signature)
            lands = all(transaction.verify_with_results())
            if self._faults.never_lands:
                self._faults.never_lands -= 1
                lands = False
            self._pending.append(_Pending(transaction, self.slot() + 1, lands))
            return signature

    def simulate(
        self, transaction: VersionedTransaction, *, sig_verify: bool, replace_blockhash: bool
    ) -> "Simulation":
        with self._lock:
            self._catch_up()
            replacement = None
            if replace_blockhash:
                replacement = self.latest_blockhash()
                transaction = _with_blockhash(transaction, replacement[0])
            if sig_verify and not all(transaction.verify_with_results()):
                return Simulation("SignatureFailure", [], 0, None, None, None, None, None)
            outcome = self._simulate(transaction, self.slot(), sig_verify=sig_verify)
            return outcome._replace(replacement=replacement)

    def _simulate(
        self, transaction: VersionedTransaction, slot: int, *, sig_verify: bool = True
    ) -> "Simulation":
        keys = list(transaction.message.account_keys)
        pre = [self._svm.get_balance(key) or 0 for key in keys]
        pre_tokens = self._token_balances(keys, {})
        if not self._blockhash_valid(transaction, slot):
            return Simulation("BlockhashNotFound", [], 0, None, pre, pre, pre_tokens, pre_tokens)
        self._svm.with_sigverify(sig_verify)
        try:
            result = self._svm.simulate_transaction(transaction)
        finally:
            self._svm.with_sigverify(True)
        meta = _meta(result)
        if isinstance(result, FailedTransactionMetadata):
            err = error_json(result.err())
            return Simulation(
                err,
                meta.logs(),
                meta.compute_units_consumed(),
                meta.fee(),
                pre,
                pre,
                pre_tokens,
                pre_tokens,
            )
        check = self._checks.get(_message_key(transaction))
        if check is not None and not check.holds():
            post = list(pre)
            post[0] -= meta.fee()
            return Simulation(
                slippage_error(check.instruction_index),
                _slippage_logs(check.program),
                meta.compute_units_consumed(),
                meta.fee(),
                pre,
                post,
                pre_tokens,
                pre_tokens,
            )
        changed = dict(result.post_accounts())
        post = [changed[key].lamports if key in changed else pre[i] for i, key in enumerate(keys)]
        post_tokens = self._token_balances(keys, changed)
        return Simulation(
            None,
            meta.logs(),
            meta.compute_units_consumed(),
            meta.fee(),
            pre,
            post,
            pre_tokens,
            post_tokens,
        )

    def _catch_up(self) -> None:
        """Land, in arrival order, every pending transaction whose slot has come."""
        now = self.slot()
        due = [pending for pending in self._pending if pending.landing_slot <= now]
        if not due:
            return
        self._pending = [pending for pending in self._pending if pending.landing_slot > now]
        for pending in due:
            if pending.lands and self._blockhash_valid(pending.transaction, pending.landing_slot):
                self._land(pending.transaction, pending.landing_slot)

    def _land(self, transaction: VersionedTransaction, slot: int) -> None:
        self._svm.warp_to_slot(slot)
        keys = list(transaction.message.account_keys)
        pre = [self._svm.get_balance(key) or 0 for key in keys]
        pre_tokens = self._token_balances(keys, {})
        check = self._checks.get(_message_key(transaction))
        slipped = check is not None and (self._take_slippage_fault() or not check.holds())
        if slipped:
            landed = self._fail_slippage(transaction, check, slot, pre, pre_tokens)
        else:
            landed = self._execute(transaction, slot, pre, pre_tokens)
        if landed is not None:
            self._landed[landed.signature] = landed

    def _take_slippage_fault(self) -> bool:
        if self._faults.slippage:
            self._faults.slippage -= 1
            return True
        return False

    def _execute(self, transaction, slot, pre, pre_tokens) -> Landed | None:
        result = self._svm.send_transaction(transaction)
        meta, err = _meta(result), None
        if isinstance(result, FailedTransactionMetadata):
            if not isinstance(result.err(), TransactionErrorInstructionError):
                # Not executed at all (fee payer unfunded, duplicate...): no block includes it.
                return None
            err = error_json(result.err())
        keys = list(transaction.message.account_keys)
        post = [self._svm.get_balance(key) or 0 for key in keys]
        return self._record(
            transaction,
            slot,
            err,
            meta.fee(),
            meta.logs(),
            meta.compute_units_consumed(),
            pre,
            post,
            pre_tokens,
            self._token_balances(keys, {}),
        )

    def _fail_slippage(self, transaction, check: SwapCheck, slot, pre, pre_tokens) -> Landed | None:
        """The minimum-out check failed. LiteSVM has no Jupiter program to fail it, so this is
        the one outcome written by hand, to what a failed transaction does on chain: the fee
        payer pays the fee (as the VM computes it) and nothing else moves."""
        simulated = self._svm.simulate_transaction(transaction)
        if isinstance(simulated, FailedTransactionMetadata) and not isinstance(
            simulated.err(), TransactionErrorInstructionError
        ):
            return None
        fee = _meta(simulated).fee()
        payer = transaction.message.account_keys[0]
        account = self._svm.get_account(payer)
        self._svm.set_account(
            payer,
            Account(
                account.lamports - fee,
                account.data,
                account.owner,
                account.executable,
                account.rent_epoch,
            ),
        )
        post = list(pre)
        post[0] -= fee
        return self._record(
            transaction,
            slot,
            slippage_error(check.instruction_index),
            fee,
            _slippage_logs(check.program),
            _meta(simulated).compute_units_consumed(),
            pre,
            post,
            pre_tokens,
            pre_tokens,
        )

    def _record(
        self, transaction, slot, err, fee, logs, units, pre, post, pre_tokens, post_tokens
    ) -> Landed:
        return Landed(
            signature=transaction.signatures[0],
            slot=slot,
            transaction=transaction,
            err=err,
            fee=fee,
            logs=list(logs),
            units=units,
            pre_balances=pre,
            post_balances=post,
            pre_token_balances=pre_tokens,
            post_token_balances=post_tokens,
            block_time=int(time.time()),
        )

    def _token_balances(self, keys: list[Pubkey], overrides: dict) -> list[TokenBalance]:
        balances = []
        for index, key in enumerate(keys):
            account = overrides.get(key) or self._svm.get_account(key)
            amount = self._token_amount(account)
            if amount is not None:
                parsed = TokenAccount.from_bytes(bytes(account.data))
                balances.append(TokenBalance(index, str(parsed.mint), str(parsed.owner), amount))
        return balances

    # Reading back

    def status(self, signature: Signature) -> dict | None:
        """getSignatureStatuses' entry for one signature: None until it lands."""
        with self._lock:
            self._catch_up()
            landed = self._landed.get(signature)
            if landed is None:
                return None
            depth = self.slot() - landed.slot
        finalized = depth >= FINALIZATION_DEPTH
        if finalized:
            level = "finalized"
        elif depth >= CONFIRMATION_DEPTH:
            level = "confirmed"
        else:
            level = "processed"
        return {
            "slot": landed.slot,
            "confirmations": None if finalized else depth,
            "err": landed.err,
            "status": {"Ok": None} if landed.err is None else {"Err": landed.err},
            "confirmationStatus": level,
        }

    def transaction(self, signature: Signature, *, commitment: str = "finalized") -> Landed | None:
        """The landed transaction once it has reached `commitment` (confirmed or finalized)."""
        with self._lock:
            self._catch_up()
            landed = self._landed.get(signature)
            if landed is None:
                return None
            depth = self.slot() - landed.slot
        needed = FINALIZATION_DEPTH if commitment == "finalized" else CONFIRMATION_DEPTH
        return landed if depth >= needed else None


class Simulation(NamedTuple):
    err: Any
    logs: list[str]
    units: int
    fee: int | None
    pre_balances: list[int] | None
    post_balances: list[int] | None
    pre_token_balances: list[TokenBalance] | None
    post_token_balances: list[TokenBalance] | None
    replacement: tuple[Hash, int] | None = None


def _message_key(transaction: VersionedTransaction) -> bytes:
    """A message without its blockhash: the same swap whether simulated with its own blockhash
    or a replaced one."""
    return bytes(_with_blockhash(transaction, Hash.default()).message)


def _with_blockhash(transaction: VersionedTransaction, blockhash: Hash) -> VersionedTransaction:
    message = transaction.message
    if not isinstance(message, MessageV0):
        message = MessageV0(
            message.header, message.account_keys, message.recent_blockhash, message.instructions, []
        )
    replaced = MessageV0(
        message.header,
        message.account_keys,
        blockhash,
        message.instructions,
        message.address_table_lookups,
    )
    return VersionedTransaction.populate(replaced, transaction.signatures)


def _meta(result) -> TransactionMetadata:
    """The metadata of any LiteSVM outcome: sent, simulated, failed."""
    return result if isinstance(result, TransactionMetadata) else result.meta()


def _count(count: int) -> int:
    if count < 1:
        raise ValueError(f"a fault count must be at least 1, got {count}")
    return count
