from datetime import UTC, datetime

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.api import owned_agent
from agents.models import Agent
from agents.permissions import scoped
from nexgent.api import DomainError
from nexgent.schema import error
from prices.selectors import latest_prices
from trading.ledger_services import TRANSFER_KEY_MAX_LENGTH, balance_transfer
from trading.manual_services import MANUAL_KEY_MAX_LENGTH, trade_manual_buy
from trading.models import ClosedTrade, CloseReason, Position, Transaction
from trading.performance_selectors import balance_history, performance_report
from trading.risk_selectors import trading_halted
from trading.selectors import open_positions, position_payload, wallet_balances
from trading.serializers import (
    BalanceHistoryQuerySerializer,
    BalanceHistorySerializer,
    BalanceListSerializer,
    ClosedTradeListSerializer,
    ClosedTradeSerializer,
    ListQuerySerializer,
    ManualBuyResultSerializer,
    ManualBuySerializer,
    PerformanceQuerySerializer,
    PerformanceSerializer,
    PositionListSerializer,
    PositionSerializer,
    ShadowQuerySerializer,
    ShadowReportSerializer,
    ShadowTradeListSerializer,
    TransactionListSerializer,
    TransactionQuerySerializer,
    TransactionSerializer,
    TransferSerializer,
)
from trading.services import position_close
from trading.shadow_selectors import shadow_report, shadow_trades
from wallets.models import AgentWallet

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description=f"Makes a retry safe (at most {TRANSFER_KEY_MAX_LENGTH} characters).",
)


def _query(serializer_class, request) -> dict:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


def _wallet(agent) -> AgentWallet:
    wallet = AgentWallet.objects.filter(agent=agent, mode=agent.trading_mode).first()
    if wallet is None:
        raise DomainError(
            "the agent has no wallet for its trading mode", code="no_wallet", status_code=404
        )
    return wallet


class BalancesView(APIView):
    permission_classes = [scoped("balances")]

    @extend_schema(responses=BalanceListSerializer)
    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        return Response({"balances": wallet_balances(_wallet(agent).pk)})


class TransactionsView(APIView):
    permission_classes = [scoped("transactions", write_scope="full_access")]

    @extend_schema(parameters=[TransactionQuerySerializer], responses=TransactionListSerializer)
    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        query = _query(TransactionQuerySerializer, request)
        rows = Transaction.objects.filter(agent=agent)
        if "type" in query:
            rows = rows.filter(type=query["type"])
        rows = rows[: query["limit"]]
        return Response({"transactions": TransactionSerializer(rows, many=True).data})

    @extend_schema(
        request=TransferSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: TransactionSerializer,
            200: TransactionSerializer,
            409: error("The Idempotency-Key was used for a different transfer."),
        },
        description="A deposit or withdrawal of simulation SOL: 201 with the ledger entry, or "
        "200 with the first entry when a retry repeats an Idempotency-Key.",
    )
    def post(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        body = TransferSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        entry, created = balance_transfer(
            wallet=_wallet(agent),
            kind=body.validated_data["type"],
            amount=body.validated_data["amount"],
            idempotency_key=_idempotency_key(request),
        )
        return Response(
            TransactionSerializer(entry).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            headers={} if created else {"Idempotent-Replayed": "true"},
        )


def _idempotency_key(request, max_length: int = TRANSFER_KEY_MAX_LENGTH) -> str | None:
    """The client's Idempotency-Key header, if any (a retried transfer writes nothing twice)."""
    key = request.headers.get("Idempotency-Key") or None
    if key is not None and len(key) > max_length:
        raise DomainError(
            f"Idempotency-Key must be at most {max_length} characters",
            code="validation_error",
            details=[{"field": "Idempotency-Key", "message": "too long"}],
        )
    return key


class TradeExecuteView(APIView):
    """A manual buy: the agent buys the token now, behind the guards a signal's buy passes."""

    permission_classes = [scoped("positions", write_scope="full_access")]

    @extend_schema(
        request=ManualBuySerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: ManualBuyResultSerializer,
            200: ManualBuyResultSerializer,
            409: error(
                "Refused before any swap, its code the reason: a guard (kill_switch_halt, "
                "risk_paused, max_open_positions, ...), position_exists, "
                "insufficient_balance, no_wallet, agent_inactive, price_impact_too_high, "
                "idempotency_key_reused; or a live swap that did not land (its reason)."
            ),
            502: error("The market could not be read (venue_unavailable); nothing was bought."),
        },
        description="Buy `token_address` for the agent: `sol_amount` SOL, or sized by the "
        "agent's rules. 201 with the position and its ledger entry; 200 with the first trade "
        "when a retry repeats an Idempotency-Key (a key never buys twice).",
    )
    def post(self, request):
        body = ManualBuySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        agent = get_object_or_404(Agent, pk=body.validated_data["agent_id"], owner=request.user)
        result = trade_manual_buy(
            agent=agent,
            token_address=body.validated_data["token_address"],
            sol_amount=body.validated_data.get("sol_amount"),
            idempotency_key=_idempotency_key(request, MANUAL_KEY_MAX_LENGTH),
        )
        return Response(
            {
                "position": position_payload(result.position),
                "transaction": TransactionSerializer(result.transaction).data,
            },
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
            headers={} if result.created else {"Idempotent-Replayed": "true"},
        )


class PositionsView(APIView):
    permission_classes = [scoped("positions")]

    @extend_schema(responses=PositionListSerializer)
    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        positions = list(open_positions(agent.pk))
        prices = latest_prices([p.token_address for p in positions])
        return Response(
            {
                "positions": [
                    position_payload(
                        p, prices[p.token_address].price_sol if p.token_address in prices else None
                    )
                    for p in positions
                ]
            }
        )


class PositionCloseView(APIView):
    permission_classes = [scoped("positions", write_scope="full_access")]

    @extend_schema(
        request=None,
        responses={
            200: PositionSerializer,
            409: error("Already closed, or trading is halted by the kill switch."),
        },
    )
    def post(self, request, agent_id, position_id):
        agent = owned_agent(request, agent_id)
        position = get_object_or_404(Position, pk=position_id, agent=agent)
        if trading_halted():
            raise DomainError(
                "trading is halted by the operator's kill switch: no buys and no sells",
                code="kill_switch_halt",
                status_code=409,
            )
        trade = position_close(position_id=position.pk, reason=CloseReason.MANUAL)
        if trade is None:
            raise DomainError(
                "the position is already closed", code="position_closed", status_code=409
            )
        position.refresh_from_db()
        return Response(position_payload(position))


class ClosedTradesView(APIView):
    permission_classes = [scoped("history")]

    @extend_schema(parameters=[ListQuerySerializer], responses=ClosedTradeListSerializer)
    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        limit = _query(ListQuerySerializer, request)["limit"]
        rows = ClosedTrade.objects.filter(agent=agent)[:limit]
        return Response({"closed_trades": ClosedTradeSerializer(rows, many=True).data})


class ShadowReportView(APIView):
    """The shadow twin of a live agent: totals over its live swaps and, per closed position,
    the live P/L against the paper P/L of the same trades filled at their quotes."""

    permission_classes = [scoped("history")]

    @extend_schema(responses=ShadowReportSerializer)
    def get(self, request, agent_id):
        return Response(shadow_report(owned_agent(request, agent_id)))


class ShadowTradesView(APIView):
    """Each live swap beside its paper fill, newest first."""

    permission_classes = [scoped("history")]

    @extend_schema(parameters=[ShadowQuerySerializer], responses=ShadowTradeListSerializer)
    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        query = _query(ShadowQuerySerializer, request)
        return Response(
            {"trades": shadow_trades(agent, limit=query["limit"], offset=query["offset"])}
        )


class PerformanceView(APIView):
    """The agent's P/L, equity, trade figures, Sharpe and max drawdown over a timeframe, for
    its wallet of its trading mode (docs/analytics.md)."""

    permission_classes = [scoped("history")]

    @extend_schema(parameters=[PerformanceQuerySerializer], responses=PerformanceSerializer)
    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        timeframe = _query(PerformanceQuerySerializer, request)["timeframe"]
        return Response(
            performance_report(wallet=_wallet(agent), timeframe=timeframe, now=datetime.now(UTC))
        )


class BalanceHistoryView(APIView):
    """The balance snapshots of the agent's wallet of its trading mode, oldest first."""

    permission_classes = [scoped("balances")]

    @extend_schema(parameters=[BalanceHistoryQuerySerializer], responses=BalanceHistorySerializer)
    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        query = _query(BalanceHistoryQuerySerializer, request)
        return Response(
            balance_history(
                wallet=_wallet(agent),
                timeframe=query["timeframe"],
                limit=query["limit"],
                now=datetime.now(UTC),
            )
        )
