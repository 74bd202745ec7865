from rest_framework import serializers

from agents.models import Agent, ApiKey, ApiKeyScope, TradingMode
from nexgent.inputs import InputModelSerializer, InputSerializer, NameField


class LoginSerializer(InputSerializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False, max_length=4096)
    remember_me = serializers.BooleanField(default=False)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Access token (JWT), sent as Bearer.")
    refresh = serializers.CharField(help_text="Refresh token, for auth/refresh and auth/logout.")


class RefreshSerializer(InputSerializer):
    refresh = serializers.CharField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    is_staff = serializers.BooleanField()


class AgentSerializer(InputModelSerializer):
    name = NameField()
    trading_mode = serializers.ChoiceField(
        choices=TradingMode.choices, default=TradingMode.SIMULATION
    )

    class Meta:
        model = Agent
        fields = [
            "id",
            "name",
            "trading_mode",
            "automated_trading_simulation",
            "automated_trading_live",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class ApiKeyCreateSerializer(InputSerializer):
    name = NameField(min_length=1, max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiKeyScope.choices),
        allow_empty=False,
        max_length=len(ApiKeyScope.choices),
    )


class ApiKeySerializer(serializers.ModelSerializer):
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiKeyScope.choices))

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The raw key: shown this once, stored only hashed.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
