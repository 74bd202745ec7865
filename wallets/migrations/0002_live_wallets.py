import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def owners_from_agents(apps, schema_editor):
    # Until now every wallet was its agent's: its owner is the agent's owner.
    AgentWallet = apps.get_model("wallets", "AgentWallet")
    for wallet in AgentWallet.objects.select_related("agent").only("pk", "agent__owner_id"):
        AgentWallet.objects.filter(pk=wallet.pk).update(owner_id=wallet.agent.owner_id)


class Migration(migrations.Migration):

    dependencies = [
        ("agents", "0001_initial"),
        ("wallets", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="agentwallet",
            name="owner",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="wallets",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(owners_from_agents, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="agentwallet",
            name="owner",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="wallets",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="agentwallet",
            name="agent",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="wallets",
                to="agents.agent",
            ),
        ),
        migrations.AddField(
            model_name="agentwallet",
            name="secret_nonce",
            field=models.BinaryField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="agentwallet",
            name="secret_salt",
            field=models.BinaryField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name="agentwallet",
            name="encrypted_secret",
            field=models.BinaryField(blank=True, editable=False, null=True),
        ),
        migrations.AddConstraint(
            model_name="agentwallet",
            constraint=models.CheckConstraint(
                condition=models.Q(("mode", "live"), ("agent__isnull", False), _connector="OR"),
                name="simulation_wallet_has_agent",
            ),
        ),
        migrations.AddConstraint(
            model_name="agentwallet",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("mode", "simulation"),
                    models.Q(
                        ("encrypted_secret__isnull", False),
                        ("secret_nonce__isnull", False),
                        ("secret_salt__isnull", False),
                    ),
                    _connector="OR",
                ),
                name="live_wallet_has_sealed_key",
            ),
        ),
    ]
