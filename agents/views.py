"""The operator's login and logout pages (the dashboard's other pages live with the apps whose
data they show: trading.views, signals_app.views)."""

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from agents.auth_services import auth_check_credentials
from nexgent.api import DomainError

INVALID_LOGIN = "Invalid email or password."


class LoginForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = None

    def clean(self):
        cleaned = super().clean()
        email, password = cleaned.get("email"), cleaned.get("password")
        if not email or not password:
            return cleaned
        email = email.strip().lower()
        # The same check as the REST login, so dashboard failures count towards the lockout too.
        try:
            user = auth_check_credentials(email=email, password=password)
        except DomainError as error:
            if error.code == "account_locked":
                raise forms.ValidationError(
                    "Too many failed logins: this account is locked until %(until)s UTC.",
                    code="locked",
                    params={"until": _locked_until(email)},
                ) from error
            raise forms.ValidationError(INVALID_LOGIN, code="invalid_login") from error
        self.user = user
        return cleaned


def _locked_until(email: str) -> str:
    until = (
        get_user_model().objects.filter(email=email).values_list("locked_until", flat=True).first()
    )
    return f"{until:%H:%M}" if until else "later"


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = LoginForm(data=request.POST)
        if form.is_valid():
            login(request, form.user)
            return redirect(_safe_next(request))
    elif request.user.is_authenticated:
        return redirect(_safe_next(request))
    else:
        form = LoginForm()
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    return render(request, "agents/login.html", {"form": form, "next": next_url})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)
