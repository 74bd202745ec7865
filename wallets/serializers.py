from rest_framework import serializers

from nexgent.inputs import IdField, InputSerializer
from wallets.keys import ACCEPTED_FORMATS, MAX_TEXT_LENGTH
from wallets.models import AgentWallet


class WalletSerializer(serializers.ModelSerializer):
    """A wallet as the API shows it: never its key, not even encrypted."""

    agent_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = AgentWallet
        fields = ["address", "mode", "agent_id", "created_at"]


class WalletListSerializer(serializers.Serializer):
    wallets = WalletSerializer(many=True)


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
