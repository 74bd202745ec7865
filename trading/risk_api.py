"""Risk endpoints: an agent's guards and pauses, and the operator's kill switch (docs/risk.md)."""

from datetime import UTC, datetime

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.api import owned_agent
from agents.permissions import NoApiKeys, scoped
from trading.models import RiskPause
from trading.risk_selectors import kill_switch_get, kill_switch_payload, pause_payload, risk_report
from trading.risk_services import kill_switch_set, risk_pause_end
from trading.serializers import (
    KillSwitchSerializer,
    KillSwitchStateSerializer,
    PauseEndSerializer,
    PauseSerializer,
    RiskReportSerializer,
)


class AgentRiskView(APIView):
    """GET agents/{id}/risk: buys allowed or not and why, active and recent pauses, and the
    state of every guard."""

    permission_classes = [scoped("agents")]

    @extend_schema(responses=RiskReportSerializer)
    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        return Response(risk_report(agent=agent, now=datetime.now(UTC)))


class RiskPauseEndView(APIView):
    """POST agents/{id}/risk/pauses/{pause_id}/end: the operator resumes the agent's buys."""

    permission_classes = [scoped("agents", write_scope="full_access")]

    @extend_schema(request=PauseEndSerializer, responses=PauseSerializer)
    def post(self, request, agent_id, pause_id):
        agent = owned_agent(request, agent_id)
        pause = get_object_or_404(RiskPause, pk=pause_id, agent=agent)
        body = PauseEndSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        note = f"ended by {request.user.email}: {body.validated_data['note']}".rstrip(": ")
        return Response(pause_payload(risk_pause_end(pause=pause, note=note)))


class KillSwitchView(APIView):
    """GET/PUT risk/kill-switch: staff operators only, never with an API key."""

    permission_classes = [NoApiKeys, IsAdminUser]

    @extend_schema(responses=KillSwitchStateSerializer)
    def get(self, request):
        return Response(kill_switch_payload(kill_switch_get()))

    @extend_schema(request=KillSwitchSerializer, responses=KillSwitchStateSerializer)
    def put(self, request):
        body = KillSwitchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        switch = kill_switch_set(user=request.user, **body.validated_data)
        return Response(kill_switch_payload(switch))
