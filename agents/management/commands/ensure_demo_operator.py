import secrets

from django.core.management.base import BaseCommand

from agents.models import User

DEMO_EMAIL = "demo@nexgent.local"


class Command(BaseCommand):
    help = "Create the demo operator (a superuser) once and print its password that one time."

    def add_arguments(self, parser):
        parser.add_argument("--email", default=DEMO_EMAIL)

    def handle(self, *args, email, **options):
        if User.objects.filter(email=email).exists():
            self.stdout.write(
                f"Operator {email} exists (its password was printed when it was created)."
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(email=email, password=password)
        self.stdout.write(
            self.style.SUCCESS("Demo operator created. Log in at http://127.0.0.1:8000/login/")
        )
        self.stdout.write(f"  email:    {email}")
        self.stdout.write(
            f"  password: {password}   (shown once; reset with manage.py changepassword)"
        )
