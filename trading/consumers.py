"""The agent WebSocket: authenticate, join the agent's group, forward its events."""

import asyncio
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from agents.auth_services import auth_access_session
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
def _user_from_token(token: str) -> tuple[User | None, str | None]:
    """The token's user and the group of its credential (closed when it is revoked)."""
    if token.startswith(KEY_PREFIX):
        key = api_key_lookup(token)
        if key is None or not (
            key.has_scope(ApiKeyScope.AGENTS) or key.has_scope(ApiKeyScope.POSITIONS)
        ):
            return None, None
        return key.owner, realtime.credential_group("apikey", key.pk)
    session = auth_access_session(token)
    if session is None:
        return None, None
    user_id, session_id = session
    user = User.objects.filter(pk=user_id, is_active=True).first()
    return user, realtime.credential_group("session", session_id)


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
        self.credential_group = None
        user, credential_group = await self._authenticate()
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
        if credential_group:
            self.credential_group = credential_group
            await self.channel_layer.group_add(credential_group, self.channel_name)
        self.last_heard = time.monotonic()
        await self.send_json(realtime.message("connected", {"agent_id": agent.pk}))
        await self.send_json(realtime.message("initial_data", await _initial_data(agent)))
        self.heartbeat = asyncio.create_task(self._heartbeat())

    async def _authenticate(self) -> tuple[User | None, str | None]:
        token = parse_qs(self.scope.get("query_string", b"").decode()).get("token", [""])[0]
        if token:
            return await _user_from_token(token)
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return None, None
        # The dashboard's cookie session: logging out of the dashboard closes its sockets.
        return user, realtime.credential_group("login", self.scope["session"].session_key)

    async def disconnect(self, code):
        if getattr(self, "heartbeat", None):
            self.heartbeat.cancel()
        for group in (self.group, self.credential_group):
            if group:
                await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        self.last_heard = time.monotonic()
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json(realtime.message("pong", {}))

    async def agent_events(self, event):
        # One channel message per agent and unit of work; one frame per event.
        for payload in event["messages"]:
            await self.send_json(payload)

    async def credential_revoked(self, event):
        # The key was revoked or the session ended: this socket was opened with it.
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def _heartbeat(self):
        while True:
            await asyncio.sleep(PING_SECONDS)
            if time.monotonic() - self.last_heard > SILENCE_LIMIT_SECONDS:
                await self.close()
                return
            await self.send_json(realtime.message("ping", {}))
