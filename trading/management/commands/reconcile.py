"""`python manage.py reconcile`: reconcile every live wallet with the chain now and print each
one's drift. Exits 1 when any wallet drifts or could not be read, so a cron job or a deploy
check can alert on it."""

from decimal import Decimal

from django.core.management.base import BaseCommand

from trading.reconcile_services import wallets_reconcile


class Command(BaseCommand):
    help = "Reconcile every live wallet with the chain; exit 1 on drift or an RPC failure."

    def handle(self, *args, **options):
        results = wallets_reconcile()
        trouble = False
        for result in results:
            address = result.wallet.address
            if result.error:
                trouble = True
                self.stdout.write(f"{address}  FAILED  {result.error}")
                continue
            drifting = [line for line in result.balances if Decimal(line["drift"])]
            if not drifting:
                self.stdout.write(f"{address}  in step")
                continue
            trouble = True
            for line in drifting:
                self.stdout.write(
                    f"{address}  DRIFT  {line['token_address']}  on chain {line['on_chain']}"
                    f"  ledger {line['ledger']}  drift {line['drift']}"
                )
        self.stdout.write(f"{len(results)} live wallet(s) reconciled")
        if trouble:
            raise SystemExit(1)
