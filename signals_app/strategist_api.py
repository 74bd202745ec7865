"""The AI strategist's endpoints: an agent's cycles (what its model was shown and decided, the
risk manager's verdicts, what came of each), and the operator's model."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.api import owned_agent
from agents.permissions import NoApiKeys, scoped
from nexgent.api import DomainError
from nexgent.pages import TOTAL_COUNT, page_of, page_response, query_of
from nexgent.schema import error
from signals_app.strategist_selectors import credential_of, cycle_detail, cycles_list
from signals_app.strategist_serializers import (
    CycleDetailSerializer,
    CycleListSerializer,
    CycleQuerySerializer,
    CycleSerializer,
    LlmCredentialInputSerializer,
    LlmCredentialSerializer,
)
from signals_app.strategist_services import llm_credential_delete, llm_credential_set

NO_MODEL = "No AI model is set up."


class DecisionListView(APIView):
    """GET agents/{id}/decisions: the agent's strategist cycles, newest first."""

    permission_classes = [scoped("agents")]

    @extend_schema(
        operation_id="v1_agents_decisions_list",
        parameters=[CycleQuerySerializer, TOTAL_COUNT],
        responses=CycleListSerializer,
        description="The agent's AI strategist cycles, newest first, each with its reasoning, "
        "decisions, the risk manager's verdicts and what was executed; reasons as codes and in "
        "words. The prompt and the raw answer are on a cycle's own route.",
    )
    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        query = query_of(CycleQuerySerializer, request)
        rows = cycles_list(agent.pk, status=query.pop("status", None))
        page = page_of(rows, **query)
        return page_response("cycles", CycleSerializer(page.rows, many=True).data, page.total)


class DecisionDetailView(APIView):
    """GET agents/{id}/decisions/{cycle_id}: one cycle with its prompt and raw answer."""

    permission_classes = [scoped("agents")]

    @extend_schema(operation_id="v1_agents_decisions_retrieve", responses=CycleDetailSerializer)
    def get(self, request, agent_id, cycle_id):
        agent = owned_agent(request, agent_id)
        cycle = cycle_detail(agent.pk, cycle_id)
        if cycle is None:
            raise Http404
        return Response(CycleDetailSerializer(cycle).data)


class LlmCredentialView(APIView):
    """The operator's model for their AI strategists: set by a logged-in operator only, never
    with an API key, and its key is never answered."""

    permission_classes = [NoApiKeys]

    @extend_schema(responses={200: LlmCredentialSerializer, 404: error(NO_MODEL)})
    def get(self, request):
        credential = credential_of(request.user.pk)
        if credential is None:
            raise DomainError(NO_MODEL, code="not_found", status_code=404)
        return Response(LlmCredentialSerializer(credential).data)

    @extend_schema(request=LlmCredentialInputSerializer, responses=LlmCredentialSerializer)
    def put(self, request):
        body = LlmCredentialInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        credential = llm_credential_set(owner=request.user, **body.validated_data)
        return Response(LlmCredentialSerializer(credential).data)

    @extend_schema(responses={204: None, 404: error(NO_MODEL)})
    def delete(self, request):
        if not llm_credential_delete(owner=request.user):
            raise DomainError(NO_MODEL, code="not_found", status_code=404)
        return Response(status=status.HTTP_204_NO_CONTENT)
