from rest_framework import serializers

from agents.models import Agent, ApiKey, ApiKeyScope, TradingMode


class LoginSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False)
    remember_me = serializers.BooleanField(default=False)


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class AgentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(min_length=3, max_length=50)
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


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiKeyScope.choices), allow_empty=False
    )


class ApiKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
