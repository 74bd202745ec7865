from datetime import UTC, datetime

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from agents.api import owned_agent
from agents.models import Agent
from agents.permissions import scoped
from nexgent.api import DomainError
from nexgent.csv_export import CsvRenderer, csv_stream
from nexgent.pages import TOTAL_COUNT, PageQuerySerializer, page_of, page_response, query_of
from nexgent.schema import error
from prices.selectors import latest_prices
from trading.history_selectors import trade_csv_rows
from trading.ledger_services import TRANSFER_KEY_MAX_LENGTH, balance_transfer
from trading.manual_services import MANUAL_KEY_MAX_LENGTH, trade_manual_buy
from trading.models import CloseReason, Position
from trading.performance_selectors import balance_history, performance_report
from trading.risk_selectors import trading_halted
from trading.selectors import (
    closed_trades_list,
    open_positions,
    position_payload,
    transactions_list,
    wallet_balances,
)
from trading.serializers import (
    BalanceHistoryQuerySerializer,
    BalanceHistorySerializer,
    BalanceListSerializer,
    ClosedTradeListSerializer,
    ClosedTradeQuerySerializer,
    ClosedTradeSerializer,
    ManualBuyResultSerializer,
    ManualBuySerializer,
    PerformanceQuerySerializer,
    PerformanceSerializer,
    PositionListSerializer,
    PositionSerializer,
    ShadowReportSerializer,
    ShadowTradeListSerializer,
    TransactionListSerializer,
    TransactionQuerySerializer,
    TransactionSerializer,
    TransferSerializer,
)
from trading.services import position_close
from trading.shadow_selectors import shadow_report, shadow_swaps, shadow_trades
from wallets.models import AgentWallet

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description=f"Makes a retry safe (at most {TRANSFER_KEY_MAX_LENGTH} characters).",
)


def _wallet(agent) -> AgentWallet:
    wallet = AgentWallet.objects.filter(agent=agent, mode=agent.trading_mode).first()
    if wallet is None:
        raise DomainError(
            "the agent has no wallet for its trading mode", code="no_wallet", status_code=404
        )
    return wallet


class BalancesView(APIView):
    permission_classes = [scoped("balances")]

    @extend_schema(parameters=[PageQuerySerializer, TOTAL_COUNT], responses=BalanceListSerializer)
    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        query = query_of(PageQuerySerializer, request)
        page = page_of(wallet_balances(_wallet(agent).pk), **query)
        return page_response("balances", page.rows, page.total)


class TransactionsView(APIView):
    permission_classes = [scoped("transactions", write_scope="full_access")]

    @extend_schema(
        parameters=[TransactionQuerySerializer, TOTAL_COUNT],
        responses=TransactionListSerializer,
        description="The agent's ledger entries, newest first, filtered.",
    )
    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        filters = query_of(TransactionQuerySerializer, request)
        limit, offset = filters.pop("limit"), filters.pop("offset")
        rows = transactions_list(
            agent_id=agent.pk,
            since=filters.pop("from", None),
            until=filters.pop("to", None),
            **filters,
        )
        page = page_of(rows, limit=limit, offset=offset)
        return page_response(
            "transactions", TransactionSerializer(page.rows, many=True).data, page.total
        )

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
            404: error("No agent of yours has this agent_id; nothing was bought."),
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

    @extend_schema(parameters=[PageQuerySerializer, TOTAL_COUNT], responses=PositionListSerializer)
    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        page = page_of(open_positions(agent.pk), **query_of(PageQuerySerializer, request))
        prices = latest_prices([p.token_address for p in page.rows])
        return page_response(
            "positions",
            [
                position_payload(
                    p, prices[p.token_address].price_sol if p.token_address in prices else None
                )
                for p in page.rows
            ],
            page.total,
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
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CsvRenderer]

    @extend_schema(
        parameters=[ClosedTradeQuerySerializer, TOTAL_COUNT],
        responses={
            (200, "application/json"): ClosedTradeListSerializer,
            (200, "text/csv"): OpenApiTypes.STR,
        },
        description="The agent's closed trades, newest close first, filtered. `?format=csv` "
        "(or `Accept: text/csv`) streams them as CSV with a header row, decimals exact as "
        "strings and times ISO 8601: every matching trade, or the page limit/offset ask for.",
    )
    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        as_csv = request.accepted_renderer.format == CsvRenderer.format
        raw = request.query_params
        filters = query_of(ClosedTradeQuerySerializer, request)
        limit, offset = filters.pop("limit"), filters.pop("offset")
        rows = closed_trades_list(
            agent_id=agent.pk,
            since=filters.pop("from", None),
            until=filters.pop("to", None),
            **filters,
        )
        if as_csv:
            # An export is every matching trade unless a page is asked for.
            if "limit" in raw or "offset" in raw:
                rows = rows[offset : offset + limit]
            return csv_stream(
                trade_csv_rows(rows),
                filename=f"closed-trades-agent-{agent.pk}.csv",
            )
        page = page_of(rows, limit=limit, offset=offset)
        return page_response(
            "closed_trades", ClosedTradeSerializer(page.rows, many=True).data, page.total
        )


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

    @extend_schema(
        parameters=[PageQuerySerializer, TOTAL_COUNT], responses=ShadowTradeListSerializer
    )
    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        query = query_of(PageQuerySerializer, request)
        return page_response("trades", shadow_trades(agent, **query), shadow_swaps(agent).count())


class PerformanceView(APIView):
    """The agent's P/L, equity, trade figures, Sharpe and max drawdown over a timeframe, for
    its wallet of its trading mode (docs/analytics.md)."""

    permission_classes = [scoped("history")]

    @extend_schema(parameters=[PerformanceQuerySerializer], responses=PerformanceSerializer)
    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        timeframe = query_of(PerformanceQuerySerializer, request)["timeframe"]
        return Response(
            performance_report(wallet=_wallet(agent), timeframe=timeframe, now=datetime.now(UTC))
        )


class BalanceHistoryView(APIView):
    """The balance snapshots of the agent's wallet of its trading mode, oldest first."""

    permission_classes = [scoped("balances")]

    @extend_schema(parameters=[BalanceHistoryQuerySerializer], responses=BalanceHistorySerializer)
    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        query = query_of(BalanceHistoryQuerySerializer, request)
        return Response(
            balance_history(
                wallet=_wallet(agent),
                timeframe=query["timeframe"],
                limit=query["limit"],
                now=datetime.now(UTC),
            )
        )
