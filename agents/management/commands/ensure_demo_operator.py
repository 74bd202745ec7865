import secrets

from django.core.management.base import BaseCommand

from agents.models import User

DEMO_EMAIL = "demo@nexgent.local"


class Command(BaseCommand):
    help = "Create the demo operator (a superuser) once and print its password that one time."

    def add_arguments(self, parser):
        parser.add_argument("--email", default=DEMO_EMAIL)
        parser.add_argument(
            "--login-url",
            default="http://127.0.0.1:8000/login/",
            help="where the engine will serve its login page (printed for the operator)",
        )

    def handle(self, *args, email, login_url, **options):
        if User.objects.filter(email=email).exists():
            self.stdout.write(
                f"Operator {email} exists (its password was printed when it was created)."
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(email=email, password=password)
        self.stdout.write(self.style.SUCCESS(f"Demo operator created. Log in at {login_url}"))
        self.stdout.write(f"  email:    {email}")
        self.stdout.write(
            f"  password: {password}   (shown once; reset with manage.py changepassword)"
        )
