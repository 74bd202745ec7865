# The risk guard models (pauses, the kill switch, equity peaks) move from the agents app to
# trading, which owns the guards. Their tables keep their names: only Django's state moves.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import nexgent.fields


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0002_risk_guards"),
        ("trading", "0002_fewer_ledger_indexes"),
        ("wallets", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="EquityPeak",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("peak_sol", nexgent.fields.ExactDecimalField(decimal_places=18, max_digits=40)),
                        ("peak_at", models.DateTimeField()),
                        ("wallet", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="equity_peak", to="wallets.agentwallet")),
                    ],
                    options={"db_table": "agents_equitypeak"},
                ),
                migrations.CreateModel(
                    name="KillSwitch",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("mode", models.CharField(choices=[("off", "Off: normal trading"), ("halt", "Halt: no buys and no sells"), ("reduce_only", "Reduce only: sells only")], default="off", max_length=16)),
                        ("set_at", models.DateTimeField(blank=True, null=True)),
                        ("note", models.CharField(blank=True, max_length=500)),
                        ("set_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "db_table": "agents_killswitch",
                        "verbose_name": "kill switch",
                        "verbose_name_plural": "kill switch",
                        "constraints": [models.CheckConstraint(condition=models.Q(("pk", 1)), name="kill_switch_singleton")],
                    },
                ),
                migrations.CreateModel(
                    name="RiskPause",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("reason", models.CharField(choices=[("daily_loss_limit", "Daily loss limit"), ("max_drawdown", "Max drawdown"), ("stop_loss_cooldown", "Cooldown after stop losses")], max_length=32)),
                        ("started_at", models.DateTimeField()),
                        ("until", models.DateTimeField(blank=True, null=True)),
                        ("ended_at", models.DateTimeField(blank=True, null=True)),
                        ("end_note", models.CharField(blank=True, max_length=200)),
                        ("details", models.JSONField(blank=True, default=dict)),
                        ("agent", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="risk_pauses", to="agents.agent")),
                    ],
                    options={
                        "db_table": "agents_riskpause",
                        "ordering": ["-started_at", "-id"],
                        "indexes": [models.Index(fields=["agent", "ended_at"], name="agents_risk_agent_i_c4fa95_idx")],
                        "constraints": [models.UniqueConstraint(condition=models.Q(("ended_at__isnull", True)), fields=("agent", "reason"), name="one_open_risk_pause_per_reason")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
