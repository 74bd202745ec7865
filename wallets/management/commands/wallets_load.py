"""Load live wallets from WALLET_1, WALLET_2, ... in the environment into the keystore."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from nexgent.api import DomainError
from wallets.services import wallets_load_env


class Command(BaseCommand):
    help = (
        "Store the private keys of WALLET_1, WALLET_2, ... (base58 seed or secret key, or a "
        "Solana CLI JSON array) as live wallets of an operator, encrypted. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--owner", help="the operator's email (default: the only operator there is)"
        )

    def handle(self, *args, owner=None, **options):
        users = get_user_model().objects.all()
        if owner:
            users = users.filter(email=owner.lower())
        if users.count() != 1:
            raise CommandError(
                "name the operator who owns the wallets: --owner EMAIL"
                if not owner
                else f"no operator {owner}"
            )
        try:
            loaded = wallets_load_env(owner=users.get(), environ=os.environ)
        except DomainError as exc:
            # The message names the variable, never its value.
            details = "; ".join(f"{d['field']}: {d['message']}" for d in exc.details)
            raise CommandError(f"{exc.message}{': ' + details if details else ''}") from None
        for wallet, created in loaded:
            self.stdout.write(f"{wallet.address} {'stored' if created else 'already stored'}")
        if not loaded:
            self.stdout.write("no WALLET_<n> variable set")
