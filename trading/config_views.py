"""An agent's config page: the form generated from the config's JSON Schema, saved as
PUT agents/{id}/config saves it, the stop-loss curve and take-profit ladder drawn from the form
(static/dashboard/config.js), and a strategy preview of the form's config over a pasted price
path, computed as POST strategy/preview computes it."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from agents import config as agent_config
from agents.config_form import attach_errors, config_from_form, config_sections
from agents.services import agent_config_replace
from agents.views import owned_agent
from nexgent import money
from nexgent.api import DomainError
from trading.backtest import (
    ReplayInputError,
    parse_preview_request,
    replay,
    result_json,
    simulated_venue_fees,
)
from trading.rules.config import StopLossConfig, TakeProfitConfig
from trading.rules.stop_loss import target_stop_percent

# The peak gains (percent) the drawn stop-loss curves are sampled at.
CURVE_PEAKS = range(0, 501, 5)
# A pasted price without a time is a minute after the one before.
PASTED_STEP = timedelta(minutes=1)
PASTED_START = datetime(2025, 1, 1, tzinfo=UTC)


class PreviewForm(forms.Form):
    buy_sol = forms.DecimalField(
        label="Buy (SOL)", initial=Decimal(1), min_value=Decimal("0.000000001")
    )
    prices = forms.CharField(
        label="Price path",
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="One price per line (SOL per token), a minute apart; or "
        '"2025-01-01T00:00:00Z, 0.000012" per line. The first price is the buy.',
    )


def _price_points(text: str) -> list[dict]:
    points = []
    for index, line in enumerate(row.strip() for row in text.splitlines()):
        if not line:
            continue
        when, _, price = line.rpartition(",") if "," in line else ("", "", line)
        t = when.strip() or (PASTED_START + index * PASTED_STEP).isoformat()
        points.append({"t": t, "price": price.strip()})
    return points


def _preview(config: dict, form: PreviewForm) -> dict:
    """The preview of `config`; its refusals land on the form."""
    body = {
        "config": config,
        "buy_sol": str(form.cleaned_data["buy_sol"]),
        "prices": _price_points(form.cleaned_data["prices"]),
    }
    try:
        preview = parse_preview_request(body, venue_fees=simulated_venue_fees())
        return result_json(
            replay(preview.rules, buy_sol=preview.buy_sol, prices=preview.prices, fees=preview.fees)
        )
    except DomainError as error:
        problems = [(d["field"], d["message"]) for d in error.details]
    except ReplayInputError as error:
        problems = [(error.field, error.message)]
    for field, message in problems:
        if not field.startswith("config"):
            form.add_error("prices" if field.startswith("prices") else None, f"{field}: {message}")
    return {}


def chart_presets() -> dict:
    """The built-in stop-loss curves and take-profit ladders, for config.js to draw: a curve
    answers 0 where it does not trail yet (the default stop applies there). Numbers are exact
    decimal strings; the script reads them as chart coordinates."""
    curves = {
        mode: [
            [
                peak,
                float(
                    target_stop_percent(
                        StopLossConfig(mode=mode, default_percentage=Decimal(0)), Decimal(peak)
                    )
                ),
            ]
            for peak in CURVE_PEAKS
        ]
        for mode in ("fixed", "exponential", "zones")
    }
    ladders = {}
    for mode in ("aggressive", "moderate", "conservative"):
        levels, moon_bag = TakeProfitConfig(mode=mode).resolved()
        ladders[mode] = {
            "levels": [[_text(lv.target_percent), _text(lv.sell_percent)] for lv in levels],
            "moon_bag": [_text(moon_bag.trigger_percent), _text(moon_bag.retain_percent)],
        }
    return {"curves": curves, "ladders": ladders}


def _curve_of(mode: str) -> StopLossConfig:
    return StopLossConfig(mode=mode, default_percentage=Decimal(0))


def _text(number: Decimal) -> str:
    return format(money.percent(number).normalize(), "f")


@login_required
@require_http_methods(["GET", "POST"])
def agent_config_page(request: HttpRequest, agent_id: int) -> HttpResponse:
    agent = owned_agent(request, agent_id)
    schema = agent_config.config_json_schema()
    previewing = request.method == "POST" and request.POST.get("action") == "preview"
    preview_form = PreviewForm(request.POST if previewing else None)
    status, problems, preview = 200, [], {}
    if request.method == "POST":
        submitted = config_from_form(schema, request.POST)
        # What was typed is shown back as typed, with its messages.
        sections = config_sections(schema, submitted)
        try:
            if previewing:
                agent_config.effective_config(agent_config.merge_overrides({}, submitted))
            else:
                agent_config_replace(agent=agent, config=submitted)
                messages.success(request, "Saved the config: the agent trades by it from now on.")
                return redirect("dashboard-agent-config", agent_id=agent.pk)
        except agent_config.ConfigValidationError as error:
            problems = attach_errors(sections, error.details)
            status = 400
        else:
            preview = _preview(submitted, preview_form) if preview_form.is_valid() else {}
            status = 200 if preview else 400
    else:
        sections = config_sections(schema, agent_config.effective_config_json(agent.config or {}))
    context = {
        "agent": agent,
        "sections": sections,
        "problems": problems,
        "preview_form": preview_form,
        "preview": preview,
        "presets": json.dumps(chart_presets()),
    }
    return render(request, "trading/config.html", context, status=status)
