"""Wallet actions that touch the ledger (trading.wallet_services, trading.reconcile_services):
unassign, reset and check-deposits. The
other wallet routes are the wallets app's (wallets/api.py)."""

from dataclasses import asdict

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from nexgent import money
from nexgent.api import DomainError
from nexgent.http import ExternalServiceError
from nexgent.schema import error
from trading.reconcile_services import wallet_reconcile
from trading.wallet_services import wallet_reset, wallet_unassign
from wallets.api import WalletAction, owned_wallet
from wallets.serializers import ConfirmSerializer, WalletReconcileSerializer, WalletSerializer


class ResetCountsSerializer(serializers.Serializer):
    positions = serializers.IntegerField()
    closed_trades = serializers.IntegerField()
    transactions = serializers.IntegerField()
    balances = serializers.IntegerField()
    snapshots = serializers.IntegerField()


class WalletResetSerializer(serializers.Serializer):
    wallet = WalletSerializer()
    deleted = ResetCountsSerializer(help_text="Rows of the wallet's ledger erased.")


def _confirmed(request) -> None:
    ConfirmSerializer(data=request.data).is_valid(raise_exception=True)


class WalletUnassignView(WalletAction):
    @extend_schema(
        request=ConfirmSerializer,
        responses={
            200: WalletSerializer,
            409: error("A simulation wallet, or open positions in the wallet (open_positions)."),
        },
        description="Take the live wallet from its agent; it stays in the keystore. Needs "
        "`confirm: true`.",
    )
    def post(self, request, address):
        wallet = owned_wallet(request, address)
        _confirmed(request)
        return Response(WalletSerializer(wallet_unassign(wallet=wallet)).data)


class WalletResetView(WalletAction):
    @extend_schema(
        request=ConfirmSerializer,
        responses={
            200: WalletResetSerializer,
            409: error("A live wallet with open positions (open_positions)."),
        },
        description="Erase the wallet's ledger (positions, closed trades, entries, balances, "
        "snapshots): it starts over holding nothing. A simulation wallet's open positions go "
        "too; a live wallet's reset is refused while it has any. Needs `confirm: true`.",
    )
    def post(self, request, address):
        wallet = owned_wallet(request, address)
        _confirmed(request)
        counts = wallet_reset(wallet=wallet)
        return Response({"wallet": WalletSerializer(wallet).data, "deleted": asdict(counts)})


class DepositSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The DEPOSIT ledger entry.")
    amount = serializers.CharField(help_text="SOL, exact.")
    created_at = serializers.DateTimeField()


class CheckDepositsSerializer(serializers.Serializer):
    reconcile = WalletReconcileSerializer()
    deposit = DepositSerializer(
        allow_null=True, help_text="The deposit this check found and recorded, if any."
    )


# A Solana address: base58 of 32 bytes. Documented so that the schema says what the path takes
# (and a fuzzer has something to break: this route has no body).
ADDRESS = OpenApiParameter(
    "address",
    str,
    OpenApiParameter.PATH,
    required=True,
    pattern="^[1-9A-HJ-NP-Za-km-z]{32,44}$",
    description="The live wallet's address.",
)


class WalletCheckDepositsView(WalletAction):
    @extend_schema(
        request=None,
        parameters=[ADDRESS],
        responses={
            200: CheckDepositsSerializer,
            409: error("A simulation wallet: it has no chain (simulation_wallet)."),
            502: error(
                "The Solana RPC failed or answered something unreadable "
                "(chain_unavailable); nothing was recorded."
            ),
        },
        description="Reconcile the live wallet with the chain now: SOL that arrived on chain "
        "is recorded as a DEPOSIT (once), and any drift between chain and ledger is reported, "
        "never written to the ledger (docs/decisions.md, Reconcile).",
    )
    def post(self, request, address):
        wallet = owned_wallet(request, address)
        try:
            outcome = wallet_reconcile(wallet=wallet)
        except ExternalServiceError as exc:
            raise DomainError(
                f"the chain could not be read: {exc}",
                code="chain_unavailable",
                status_code=status.HTTP_502_BAD_GATEWAY,
            ) from None
        deposit = outcome.deposit
        return Response(
            {
                "reconcile": WalletReconcileSerializer(outcome.result).data,
                "deposit": None
                if deposit is None
                else {
                    "id": deposit.pk,
                    "amount": money.as_str(deposit.input_amount),
                    "created_at": deposit.created_at,
                },
            }
        )
