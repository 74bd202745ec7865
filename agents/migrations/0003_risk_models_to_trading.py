# The risk guard models now belong to trading (trading 0003 takes them over, tables unchanged).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0002_risk_guards"),
        ("trading", "0003_risk_models_from_agents"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="EquityPeak"),
                migrations.DeleteModel(name="KillSwitch"),
                migrations.DeleteModel(name="RiskPause"),
            ],
            database_operations=[],
        ),
    ]
