from django.apps import AppConfig
from django.db.models.signals import post_save, pre_delete


class WalletsConfig(AppConfig):
    name = "wallets"
    verbose_name = "Wallets"

    def ready(self):
        from prometheus_client import REGISTRY

        from wallets.metrics import ReconcileCollector
        from wallets.services import agent_wallets_close, agent_wallets_open

        # Once per process: a second registration of the same names would be refused.
        REGISTRY.register(ReconcileCollector())

        # Every agent has its simulation wallet from the moment it exists, however it is created
        # (the API, the admin, a shell): the agents app knows nothing of wallets. Likewise its
        # simulation wallet goes when it goes, and its live wallet stays in the keystore.
        post_save.connect(agent_wallets_open, sender="agents.Agent", dispatch_uid="agent-wallets")
        pre_delete.connect(
            agent_wallets_close, sender="agents.Agent", dispatch_uid="agent-wallets-close"
        )
