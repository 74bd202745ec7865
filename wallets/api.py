from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from agents.api import owned_agent
from agents.models import Agent
from agents.permissions import NoApiKeys, scoped
from nexgent.pages import TOTAL_COUNT, PageQuerySerializer, page_of, page_response, query_of
from nexgent.schema import error
from wallets.models import AgentWallet
from wallets.serializers import (
    AgentWalletListSerializer,
    AgentWalletSerializer,
    WalletAssignSerializer,
    WalletCreateSerializer,
    WalletExportSerializer,
    WalletListSerializer,
    WalletSecretSerializer,
    WalletSerializer,
)
from wallets.services import (
    wallet_assign,
    wallet_create_live,
    wallet_import,
    wallet_secret_export,
)

KEYSTORE_DOWN = error(
    "The keystore cannot work: no usable master key, or the master key does not open this "
    "wallet's key (keystore_unavailable, master_key_missing, wrong_master_key, ...)."
)


def owned_wallet(request, address: str) -> AgentWallet:
    """The caller's wallet, or 404 (never 403) for someone else's."""
    return get_object_or_404(AgentWallet, address=address, owner=request.user)


class WalletAction(APIView):
    """A write on a wallet: an operator's login only (never an API key), throttled as api.md's
    wallet actions (REST_FRAMEWORK's `wallet` rate, 5 a minute per operator)."""

    permission_classes = [NoApiKeys]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "wallet"


class AgentWalletsView(APIView):
    permission_classes = [scoped("balances")]

    @extend_schema(
        parameters=[PageQuerySerializer, TOTAL_COUNT],
        responses=AgentWalletListSerializer,
        description="The agent's wallets; its live wallet with its latest reconcile (on-chain "
        "and ledger balances, drift).",
    )
    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        wallets = (
            AgentWallet.objects.filter(agent=agent)
            .select_related("reconcile")
            .order_by("mode", "pk")
        )
        page = page_of(wallets, **query_of(PageQuerySerializer, request))
        return page_response(
            "wallets", AgentWalletSerializer(page.rows, many=True).data, page.total
        )


class WalletsView(WalletAction):
    def get_throttles(self):
        # Listing is a read: only the writes count against the wallet actions' rate.
        return super().get_throttles() if self.request.method == "POST" else []

    @extend_schema(
        parameters=[PageQuerySerializer, TOTAL_COUNT],
        responses=WalletListSerializer,
        description="Your live wallets.",
    )
    def get(self, request):
        wallets = AgentWallet.objects.filter(owner=request.user, mode="live").order_by("pk")
        page = page_of(wallets, **query_of(PageQuerySerializer, request))
        return page_response("wallets", WalletSerializer(page.rows, many=True).data, page.total)

    @extend_schema(
        request=WalletCreateSerializer,
        responses={
            201: WalletSerializer,
            409: error("This key is already in the keystore (wallet_exists)."),
            503: KEYSTORE_DOWN,
        },
        description="Create a live wallet (no body, or no `secret`) or import one (`secret`). "
        "Unassigned until POST wallets/{address}/assign.",
    )
    def post(self, request):
        body = WalletCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        secret = body.validated_data.get("secret")
        if secret is None:
            wallet = wallet_create_live(owner=request.user)
        else:
            wallet = wallet_import(owner=request.user, secret=secret)
        return Response(WalletSerializer(wallet).data, status=status.HTTP_201_CREATED)


class WalletAssignView(WalletAction):
    @extend_schema(
        request=WalletAssignSerializer,
        responses={
            200: WalletSerializer,
            409: error(
                "A simulation wallet, a wallet assigned to another agent, or an agent that "
                "already has a live wallet."
            ),
        },
    )
    def post(self, request, address):
        wallet = owned_wallet(request, address)
        body = WalletAssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        agent = get_object_or_404(Agent, pk=body.validated_data["agent_id"], owner=request.user)
        return Response(WalletSerializer(wallet_assign(wallet=wallet, agent=agent)).data)


class WalletExportView(WalletAction):
    @extend_schema(
        request=WalletExportSerializer,
        responses={200: WalletSecretSerializer, 503: KEYSTORE_DOWN},
        description="The live wallet's secret key, once, after your password (403 "
        "wrong_password otherwise). Every export is logged, without the key.",
    )
    def post(self, request, address):
        wallet = owned_wallet(request, address)
        body = WalletExportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        secret = wallet_secret_export(
            wallet=wallet, user=request.user, password=body.validated_data["password"]
        )
        return Response(
            {"address": wallet.address, "secret_key": secret},
            headers={"Cache-Control": "no-store"},
        )
