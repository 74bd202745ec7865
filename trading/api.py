from django.shortcuts import get_object_or_404
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.api import owned_agent
from agents.permissions import scoped
from nexgent.api import DomainError
from prices.selectors import latest_prices
from trading.models import ClosedTrade, CloseReason, Position, Transaction, TransactionType
from trading.risk_selectors import trading_halted
from trading.selectors import open_positions, position_payload, wallet_balances
from trading.serializers import ClosedTradeSerializer, TransactionSerializer, TransferSerializer
from trading.services import TRANSFER_KEY_MAX_LENGTH, balance_transfer, position_close
from wallets.models import AgentWallet

MAX_LIMIT = 1000


def _limit(request, default=100) -> int:
    raw = request.query_params.get("limit", default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise DomainError(
            "limit must be an integer",
            code="validation_error",
            details=[{"field": "limit", "message": "not an integer"}],
        ) from None
    if not 1 <= value <= MAX_LIMIT:
        raise DomainError(
            f"limit must be between 1 and {MAX_LIMIT}",
            code="validation_error",
            details=[{"field": "limit", "message": "out of range"}],
        )
    return value


def _wallet(agent) -> AgentWallet:
    wallet = AgentWallet.objects.filter(agent=agent, mode=agent.trading_mode).first()
    if wallet is None:
        raise DomainError(
            "the agent has no wallet for its trading mode", code="no_wallet", status_code=404
        )
    return wallet


class BalancesView(APIView):
    permission_classes = [scoped("balances")]

    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        return Response({"balances": wallet_balances(_wallet(agent).pk)})


class TransactionsView(APIView):
    permission_classes = [scoped("transactions", write_scope="full_access")]

    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        rows = Transaction.objects.filter(agent=agent)
        kind = request.query_params.get("type")
        if kind:
            if kind not in TransactionType.values:
                raise DomainError(
                    f"type must be one of {TransactionType.values}",
                    code="validation_error",
                    details=[{"field": "type", "message": "unknown type"}],
                )
            rows = rows.filter(type=kind)
        return Response(
            {"transactions": TransactionSerializer(rows[: _limit(request)], many=True).data}
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


def _idempotency_key(request) -> str | None:
    """The client's Idempotency-Key header, if any (a retried transfer writes nothing twice)."""
    key = request.headers.get("Idempotency-Key") or None
    if key is not None and len(key) > TRANSFER_KEY_MAX_LENGTH:
        raise DomainError(
            f"Idempotency-Key must be at most {TRANSFER_KEY_MAX_LENGTH} characters",
            code="validation_error",
            details=[{"field": "Idempotency-Key", "message": "too long"}],
        )
    return key


class PositionsView(APIView):
    permission_classes = [scoped("positions")]

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

    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        rows = ClosedTrade.objects.filter(agent=agent)[: _limit(request)]
        return Response({"closed_trades": ClosedTradeSerializer(rows, many=True).data})
