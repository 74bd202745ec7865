"""The agent WebSocket: authenticate, join the agent's group, forward its events."""

import asyncio
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from agents.authentication import KEY_PREFIX, api_key_lookup
from agents.models import Agent, ApiKeyScope, User
from nexgent import realtime
from prices.selectors import latest_prices
from trading.selectors import open_positions, position_payload, wallet_balances
from wallets.models import AgentWallet

PING_SECONDS = 30
SILENCE_LIMIT_SECONDS = 60
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


@database_sync_to_async
def _user_from_token(token: str) -> User | None:
    if token.startswith(KEY_PREFIX):
        key = api_key_lookup(token)
        if key is None or not (
            key.has_scope(ApiKeyScope.AGENTS) or key.has_scope(ApiKeyScope.POSITIONS)
        ):
            return None
        return key.owner
    try:
        access = AccessToken(token)
    except TokenError:
        return None
    return User.objects.filter(pk=access.get("user_id"), is_active=True).first()


@database_sync_to_async
def _owned_agent(user: User, agent_id: int) -> Agent | None:
    return Agent.objects.filter(pk=agent_id, owner=user).first()


@database_sync_to_async
def _initial_data(agent: Agent) -> dict:
    positions = list(open_positions(agent.pk))
    prices = latest_prices([p.token_address for p in positions])
    wallet = AgentWallet.objects.filter(agent=agent, mode=agent.trading_mode).first()
    return {
        "positions": [
            position_payload(
                p, prices[p.token_address].price_sol if p.token_address in prices else None
            )
            for p in positions
        ],
        "balances": wallet_balances(wallet.pk) if wallet else [],
    }


class AgentConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        realtime.register_server_loop(asyncio.get_running_loop())
        self.group = None
        user = await self._authenticate()
        await self.accept()
        if user is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        agent = await _owned_agent(user, int(self.scope["url_route"]["kwargs"]["agent_id"]))
        if agent is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.group = realtime.agent_group(agent.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.last_heard = time.monotonic()
        await self.send_json(realtime.message("connected", {"agent_id": agent.pk}))
        await self.send_json(realtime.message("initial_data", await _initial_data(agent)))
        self.heartbeat = asyncio.create_task(self._heartbeat())

    async def _authenticate(self) -> User | None:
        token = parse_qs(self.scope.get("query_string", b"").decode()).get("token", [""])[0]
        if token:
            return await _user_from_token(token)
        user = self.scope.get("user")
        return user if user is not None and user.is_authenticated else None

    async def disconnect(self, code):
        if getattr(self, "heartbeat", None):
            self.heartbeat.cancel()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        self.last_heard = time.monotonic()
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json(realtime.message("pong", {}))

    async def agent_events(self, event):
        # One channel message per agent and unit of work; one frame per event.
        for payload in event["messages"]:
            await self.send_json(payload)

    async def _heartbeat(self):
        while True:
            await asyncio.sleep(PING_SECONDS)
            if time.monotonic() - self.last_heard > SILENCE_LIMIT_SECONDS:
                await self.close()
                return
            await self.send_json(realtime.message("ping", {}))
