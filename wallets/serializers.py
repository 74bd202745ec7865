from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from nexgent.inputs import IdField, InputSerializer
from wallets.keys import ACCEPTED_FORMATS, MAX_TEXT_LENGTH
from wallets.models import AgentWallet, WalletReconcile


class WalletSerializer(serializers.ModelSerializer):
    """A wallet as the API shows it: never its key, not even encrypted."""

    agent_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = AgentWallet
        fields = ["address", "mode", "agent_id", "created_at"]


class WalletListSerializer(serializers.Serializer):
    wallets = WalletSerializer(many=True)


class ReconcileLineSerializer(serializers.Serializer):
    token_address = serializers.CharField(help_text="The mint; SOL under the wSOL mint.")
    on_chain = serializers.CharField(help_text="Held on chain, in whole units (exact).")
    ledger = serializers.CharField(help_text="Held in the ledger, in whole units (exact).")
    drift = serializers.CharField(help_text='On chain minus ledger; "0" when in step.')


class WalletReconcileSerializer(serializers.ModelSerializer):
    """A live wallet's latest reconcile: the balances as of the last chain read that
    succeeded, and the last attempt's error, if it failed."""

    balances = ReconcileLineSerializer(many=True)

    class Meta:
        model = WalletReconcile
        fields = [
            "checked_at",
            "succeeded_at",
            "slot",
            "has_drift",
            "trade_in_flight",
            "error",
            "balances",
        ]


class AgentWalletSerializer(WalletSerializer):
    reconcile = serializers.SerializerMethodField(
        help_text="A live wallet's on-chain and ledger balances and their drift (null for a "
        "simulation wallet, or before the first reconcile)."
    )

    class Meta(WalletSerializer.Meta):
        fields = [*WalletSerializer.Meta.fields, "reconcile"]

    @extend_schema_field(WalletReconcileSerializer(allow_null=True))
    def get_reconcile(self, wallet):
        try:
            result = wallet.reconcile
        except WalletReconcile.DoesNotExist:
            return None
        return WalletReconcileSerializer(result).data


class AgentWalletListSerializer(serializers.Serializer):
    wallets = AgentWalletSerializer(many=True)


class WalletCreateSerializer(InputSerializer):
    secret = serializers.CharField(
        required=False,
        write_only=True,
        trim_whitespace=True,
        max_length=MAX_TEXT_LENGTH,
        help_text=f"Import this private key: {ACCEPTED_FORMATS}. Absent: a new keypair is "
        "created. Stored encrypted; never shown again (see export).",
    )


class WalletAssignSerializer(InputSerializer):
    agent_id = IdField(help_text="The agent that gets this live wallet.")


class ConfirmSerializer(InputSerializer):
    confirm = serializers.BooleanField(help_text="Must be true: this action cannot be undone.")

    def validate_confirm(self, value):
        if value is not True:
            raise serializers.ValidationError("Must be true to confirm this action.")
        return value


class WalletExportSerializer(InputSerializer):
    password = serializers.CharField(
        write_only=True,
        trim_whitespace=False,
        max_length=4096,
        help_text="Your login password, asked again before the key is shown.",
    )


class WalletSecretSerializer(serializers.Serializer):
    address = serializers.CharField()
    secret_key = serializers.CharField(
        help_text="The 64-byte secret key (seed then public key) in base58, as Phantom and "
        "`solana-keygen` import it. Keep it safe: whoever holds it holds the funds."
    )
