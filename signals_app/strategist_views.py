"""The AI strategist's pages: an agent's decisions (each cycle with its reasoning, the risk
manager's verdicts and what came of them, and how the strategist's trades do beside the agent's
others), and the operator's model, set through the same service and checks as the API."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from agents.config import ConfigValidationError, agent_config
from agents.views import owned_agent
from nexgent.money import as_str
from nexgent.views import query_with
from signals_app.models import LlmCredential, ResponseFormat
from signals_app.reasons import reason_text
from signals_app.strategist_selectors import credential_of, cycles_list, trades_by_opener
from signals_app.strategist_serializers import LlmCredentialInputSerializer
from signals_app.strategist_services import (
    llm_credential_delete,
    llm_credential_set,
    llm_key_open,
)
from trading.history_selectors import page_of

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# Reasoning longer than this is folded into a <details> under its first words.
REASONING_FOLD_CHARS = 280
REASONING_PREVIEW_CHARS = 160


class CyclePageForm(forms.Form):
    limit = forms.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT)
    offset = forms.IntegerField(required=False, min_value=0)

    def window(self) -> tuple[int, int]:
        """The page asked for; a bad value falls back to its default, as the history pages do."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return data.get("limit") or DEFAULT_LIMIT, data.get("offset") or 0


def _strategist_summary(agent) -> dict:
    try:
        config = agent_config(agent.config)
    except ConfigValidationError:
        return {"config_invalid": True}
    settings = config.ai_strategist
    return {
        "config_invalid": False,
        "decision_source": config.signals.decision_source,
        "on": config.signals.decision_source in ("ai", "both"),
        "period_minutes": settings.period_minutes,
        "max_position_sol": settings.max_position_sol,
        "max_position_equity_percent": settings.max_position_equity_percent,
        "min_reward_risk": settings.min_reward_risk,
    }


def _annotate(cycles) -> None:
    """Reasons in words and each decision's token symbol, where one is known."""
    for cycle in cycles:
        cycle.reason_text = reason_text(cycle.reason)
        cycle.reasoning_folded = len(cycle.reasoning) > REASONING_FOLD_CHARS
        cycle.reasoning_preview = cycle.reasoning[:REASONING_PREVIEW_CHARS]
        for decision in cycle.decisions.all():
            decision.verdict_text = reason_text(decision.verdict_reason)
            decision.outcome_text = reason_text(decision.outcome_reason)
            decision.symbol = (decision.position.token_symbol if decision.position else "") or (
                decision.signal.symbol if decision.signal else ""
            )


@login_required
@require_http_methods(["GET"])
def decisions_page(request: HttpRequest, agent_id: int) -> HttpResponse:
    agent = owned_agent(request, agent_id)
    limit, offset = CyclePageForm(request.GET).window()
    page = page_of(cycles_list(agent.pk), limit=limit, offset=offset)
    _annotate(page.rows)
    split = trades_by_opener(agent)
    context = {
        "agent": agent,
        "strategist": _strategist_summary(agent),
        "model_set": credential_of(request.user.pk) is not None,
        "split_rows": [
            ("AI strategist", split.strategist, "strategist"),
            ("Other trades", split.others, "others"),
        ],
        "page": page,
        "next_query": query_with(request, offset=offset + limit) if page.has_next else "",
        "previous_query": query_with(request, offset=max(offset - limit, 0)) if offset else "",
    }
    return render(request, "signals_app/decisions.html", context)


class LlmCredentialForm(forms.Form):
    base_url = forms.CharField(
        label="Base URL",
        max_length=300,
        help_text="The OpenAI-compatible API, e.g. https://api.openai.com/v1 or "
        "http://ollama:11434/v1.",
    )
    model = forms.CharField(max_length=100)
    api_key = forms.CharField(
        label="API key",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    response_format = forms.ChoiceField(
        choices=[
            (ResponseFormat.JSON_SCHEMA, "json_schema (structured output)"),
            (ResponseFormat.JSON_OBJECT, "json_object (JSON mode)"),
        ],
        initial=ResponseFormat.JSON_SCHEMA,
        help_text="json_schema where the provider holds answers to a schema (OpenAI, vLLM, "
        "Ollama, OpenRouter); json_object for JSON mode only (DeepSeek, Qwen).",
    )
    input_usd_per_million_tokens = forms.CharField(
        label="Input price (USD per million tokens)", required=False, initial="0"
    )
    output_usd_per_million_tokens = forms.CharField(
        label="Output price (USD per million tokens)", required=False, initial="0"
    )

    def __init__(self, *args, credential: LlmCredential | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.credential = credential
        key = self.fields["api_key"]
        key.help_text = (
            "A key is set: leave this empty to keep it."
            if credential
            else "Stored encrypted; never shown again."
        )

    def validated(self) -> dict | None:
        """The form's data checked by the API's own serializer: the same rules and messages.
        An empty key keeps the one already set."""
        if not self.is_valid():
            return None
        data = {name: value for name, value in self.cleaned_data.items() if value != ""}
        if "api_key" not in data and self.credential is not None:
            data["api_key"] = llm_key_open(self.credential)
        body = LlmCredentialInputSerializer(data=data)
        if body.is_valid():
            return body.validated_data
        for field, problems in body.errors.items():
            for problem in problems:
                self.add_error(field if field in self.fields else None, str(problem))
        return None


def _initial(credential: LlmCredential | None) -> dict:
    if credential is None:
        return {}
    return {
        "base_url": credential.base_url,
        "model": credential.model,
        "response_format": credential.response_format,
        "input_usd_per_million_tokens": as_str(credential.input_usd_per_million_tokens),
        "output_usd_per_million_tokens": as_str(credential.output_usd_per_million_tokens),
    }


@login_required
@require_http_methods(["GET", "POST"])
def llm_settings_page(request: HttpRequest) -> HttpResponse:
    credential = credential_of(request.user.pk)
    form = LlmCredentialForm(
        request.POST or None, initial=_initial(credential), credential=credential
    )
    if request.method == "POST":
        data = form.validated()
        if data is not None:
            llm_credential_set(owner=request.user, **data)
            messages.success(request, "Saved the AI model.")
            return redirect("dashboard-llm-settings")
    context = {"form": form, "credential": credential}
    response = render(
        request, "signals_app/llm_settings.html", context, status=400 if form.errors else 200
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def llm_remove_page(request: HttpRequest) -> HttpResponse:
    credential = credential_of(request.user.pk)
    if credential is None:
        return redirect("dashboard-llm-settings")
    if not request.POST.get("confirm"):
        return render(request, "signals_app/confirm_llm_remove.html", {"credential": credential})
    llm_credential_delete(owner=request.user)
    messages.success(request, "Removed the AI model.")
    return redirect("dashboard-llm-settings")
