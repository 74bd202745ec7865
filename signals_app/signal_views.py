"""The signals page: every recent signal of the operator with each agent's decision and its
reason in words, a form that sends a test signal through the API's own service, and how to post
signals from elsewhere."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from nexgent.api import DomainError
from nexgent.views import add_service_error
from signals_app.models import SignalExecution, TradingSignal
from signals_app.reasons import reason_text
from signals_app.serializers import SignalCreateSerializer
from signals_app.services import signal_create
from signals_app.tasks import signal_received

PER_PAGE = 25
TEST_SOURCE = "dashboard test"


class TestSignalForm(forms.Form):
    token_address = forms.CharField(label="Token mint address", max_length=64)
    symbol = forms.CharField(max_length=32, required=False)
    signal_type = forms.CharField(max_length=50, initial="test")
    signal_strength = forms.IntegerField(label="Strength (1-5)", initial=5)
    action = forms.ChoiceField(
        choices=[("buy", "Buy"), ("sell", "Sell: exit the agents' positions in the token")],
        initial="buy",
        required=False,
    )


def _validated(form: TestSignalForm) -> dict | None:
    """The form's data checked by the API's own serializer: the same rules and messages."""
    data = {name: value for name, value in form.cleaned_data.items() if value != ""}
    body = SignalCreateSerializer(data={"symbol": "", **data, "source": TEST_SOURCE})
    if body.is_valid():
        return body.validated_data
    for field, problems in body.errors.items():
        for problem in problems:
            form.add_error(field if field in form.fields else None, str(problem))
    return None


def _send(request: HttpRequest, form: TestSignalForm) -> bool:
    data = _validated(form) if form.is_valid() else None
    if data is None:
        return False
    try:
        signal, created = signal_create(owner=request.user, **data)
    except DomainError as error:
        add_service_error(form, error)
        return False
    if created:
        signal_received(signal)
    messages.success(request, f"Sent test signal #{signal.pk}.")
    return True


@login_required
@require_http_methods(["GET", "POST"])
def signals_page(request: HttpRequest) -> HttpResponse:
    form = TestSignalForm(request.POST or None)
    if request.method == "POST" and _send(request, form):
        return redirect("dashboard-signals")
    rows = TradingSignal.objects.filter(owner=request.user).prefetch_related(
        Prefetch(
            "executions",
            queryset=SignalExecution.objects.select_related("agent").order_by("agent_id"),
        )
    )
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    for signal in page:
        for execution in signal.executions.all():
            execution.reason_text = reason_text(execution.reason)
    endpoint = request.build_absolute_uri(reverse("signal-list"))
    context = {"form": form, "page": page, "endpoint": endpoint}
    return render(request, "signals_app/signals.html", context, status=400 if form.errors else 200)
