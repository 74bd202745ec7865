"""Wallet actions that touch the ledger (trading.wallet_services): unassign and reset. The
other wallet routes are the wallets app's (wallets/api.py)."""

from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from nexgent.schema import error
from trading.wallet_services import wallet_reset, wallet_unassign
from wallets.api import WalletAction, owned_wallet
from wallets.serializers import ConfirmSerializer, WalletSerializer


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
