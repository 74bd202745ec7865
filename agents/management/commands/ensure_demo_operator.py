from django.core.management.base import BaseCommand

from agents.models import User
from agents.services import DEMO_OPERATOR_EMAIL, operator_create


class Command(BaseCommand):
    help = "Create the demo operator once and print its password that one time."

    def add_arguments(self, parser):
        parser.add_argument("--email", default=DEMO_OPERATOR_EMAIL)

    def handle(self, *args, email, **options):
        if User.objects.filter(email=email).exists():
            self.stdout.write(
                f"Operator {email} exists (its password was printed when it was created)."
            )
            return
        _, password = operator_create(email=email)
        self.stdout.write(self.style.SUCCESS("Demo operator created:"))
        self.stdout.write(f"  email:    {email}")
        self.stdout.write(
            f"  password: {password}   (shown once; reset with manage.py changepassword)"
        )
