from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from agents import config as agent_config
from agents.auth_services import auth_login, auth_logout, auth_refresh
from agents.models import Agent, ApiKey
from agents.permissions import NoApiKeys, scoped
from agents.selectors import SESSION_CLAIM
from agents.serializers import (
    AgentSerializer,
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    LoginSerializer,
    MeSerializer,
    RefreshSerializer,
    TokenPairSerializer,
)
from agents.services import (
    agent_config_replace,
    agent_create,
    agent_delete,
    agent_update,
    api_key_create,
    api_key_revoke,
)
from nexgent.api import DomainError
from nexgent.pages import TOTAL_COUNT, HeaderPagination
from nexgent.schema import error


def owned_agent(request, agent_id) -> Agent:
    """The caller's agent, or 404 (never 403) for someone else's."""
    return get_object_or_404(Agent, pk=agent_id, owner=request.user)


class LoginView(APIView):
    # Throttled and locked by the login guard, the same one the dashboard and admin use.
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        request=LoginSerializer,
        responses={
            200: TokenPairSerializer,
            401: error("Wrong email or password."),
            423: error(
                "Too many failed logins for this email from this address (details: locked_until)."
            ),
            429: error("Too many login attempts from this address (Retry-After)."),
        },
    )
    def post(self, request):
        body = LoginSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(auth_login(request=request, **body.validated_data))


class RefreshView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "refresh"

    @extend_schema(
        request=RefreshSerializer,
        responses={
            200: TokenPairSerializer,
            401: error("Not a valid refresh token, or its session has ended."),
        },
    )
    def post(self, request):
        body = RefreshSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(auth_refresh(body.validated_data["refresh"]))


class LogoutView(APIView):
    """End the login session of the refresh token given, and of the access token used."""

    permission_classes = [NoApiKeys]

    @extend_schema(request=RefreshSerializer, responses={204: None})
    def post(self, request):
        body = RefreshSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        access_session = request.auth.get(SESSION_CLAIM) if hasattr(request.auth, "get") else None
        auth_logout(
            user=request.user,
            raw_refresh=body.validated_data["refresh"],
            access_session_id=access_session,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    # The operator's own account (email, staff flag): an API key, whatever its scopes, is a
    # provider's credential and reads nothing of it.
    permission_classes = [NoApiKeys]

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        user = request.user
        return Response({"id": user.pk, "email": user.email, "is_staff": user.is_staff})


@extend_schema_view(list=extend_schema(parameters=[TOTAL_COUNT]))
class AgentViewSet(viewsets.ModelViewSet):
    serializer_class = AgentSerializer
    pagination_class = HeaderPagination
    lookup_value_regex = "[0-9]+"
    permission_classes = [scoped("agents")]

    def get_queryset(self):
        return Agent.objects.filter(owner=self.request.user).order_by("pk")

    def perform_create(self, serializer):
        serializer.instance = agent_create(owner=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = agent_update(agent=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        agent_delete(agent=instance)


class AgentConfigView(APIView):
    """GET the effective config; PUT replaces the overrides (an empty body resets); PATCH
    deep-merges (objects merge, arrays replace, null resets or clears)."""

    permission_classes = [scoped("agents")]

    @extend_schema(responses=agent_config.AgentConfig)
    def get(self, request, agent_id):
        agent = owned_agent(request, agent_id)
        return Response(agent_config.effective_config_json(agent.config))

    @extend_schema(request=agent_config.AgentConfig, responses=agent_config.AgentConfig)
    def put(self, request, agent_id):
        return self._store(
            request, agent_id, lambda stored: agent_config.merge_overrides({}, request.data)
        )

    @extend_schema(request=agent_config.AgentConfig, responses=agent_config.AgentConfig)
    def patch(self, request, agent_id):
        return self._store(
            request, agent_id, lambda stored: agent_config.merge_overrides(stored, request.data)
        )

    def _store(self, request, agent_id, build):
        agent = owned_agent(request, agent_id)
        if not isinstance(request.data, dict):
            raise DomainError("config must be a JSON object", code="validation_error")
        try:
            agent = agent_config_replace(agent=agent, config=build(agent.config or {}))
        except agent_config.ConfigValidationError as exc:
            raise DomainError(
                "Invalid config: " + ", ".join(d["field"] for d in exc.details),
                code="validation_error",
                details=exc.details,
            ) from exc
        return Response(agent_config.effective_config_json(agent.config))


class AgentConfigSchemaView(APIView):
    """The JSON Schema of the whole agent config, for building config forms."""

    permission_classes = [scoped("agents")]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(agent_config.config_json_schema())


@extend_schema_view(list=extend_schema(parameters=[TOTAL_COUNT]))
class ApiKeyViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = ApiKeySerializer
    pagination_class = HeaderPagination
    permission_classes = [NoApiKeys]
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return ApiKey.objects.filter(owner=self.request.user, revoked_at__isnull=True).order_by(
            "pk"
        )

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: ApiKeyCreatedSerializer})
    def create(self, request):
        body = ApiKeyCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        key, raw_key = api_key_create(owner=request.user, **body.validated_data)
        return Response(
            {**ApiKeySerializer(key).data, "key": raw_key}, status=status.HTTP_201_CREATED
        )

    def perform_destroy(self, instance):
        api_key_revoke(key=instance)
