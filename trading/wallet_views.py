"""An agent's wallet page: its balances, simulated SOL deposited or withdrawn, its live wallet
created, imported, assigned or unassigned, reconciled with the chain, and the shadow comparison
of its live swaps with paper. Every write goes through the services the API's wallet routes
call."""

import uuid
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from agents.models import Agent, TradingMode
from agents.views import owned_agent
from nexgent import inputs, money
from nexgent.api import DomainError
from nexgent.http import ExternalServiceError
from nexgent.views import add_service_error
from trading.ledger_services import balance_transfer
from trading.models import Balance, TransactionType
from trading.reconcile_services import wallet_reconcile
from trading.shadow_selectors import shadow_report
from trading.wallet_services import wallet_unassign
from wallets.keys import MAX_TEXT_LENGTH
from wallets.models import AgentWallet
from wallets.services import wallet_assign, wallet_create_live, wallet_import

TRANSFER_KINDS = [(TransactionType.DEPOSIT, "Deposit"), (TransactionType.WITHDRAWAL, "Withdraw")]


class TransferForm(forms.Form):
    # Depositing is what a new agent needs first; withdrawing is one click away.
    kind = forms.ChoiceField(
        choices=TRANSFER_KINDS, initial=TransactionType.DEPOSIT, widget=forms.RadioSelect
    )
    amount = forms.DecimalField(
        label="Amount (SOL)",
        min_value=Decimal("0.000000001"),
        max_value=inputs.MAX_SOL,
        decimal_places=money.SOL_DECIMALS,
    )
    # One key per form shown: submitting the same form twice transfers once.
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)


class ImportForm(forms.Form):
    secret = forms.CharField(
        label="Private key",
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        max_length=MAX_TEXT_LENGTH,
        help_text="Base58 (as Phantom exports it) or a JSON array of 64 numbers (a Solana CLI "
        "keypair file). Stored encrypted; never shown again.",
    )


def _page(request: HttpRequest, agent: Agent, status: int = 200, **forms_given) -> HttpResponse:
    wallets = list(
        AgentWallet.objects.filter(agent=agent).select_related("reconcile").order_by("mode")
    )
    live = next((w for w in wallets if w.mode == TradingMode.LIVE), None)
    context = {
        "agent": agent,
        "wallets": wallets,
        "balances": Balance.objects.filter(wallet__in=wallets)
        .select_related("wallet")
        .order_by("wallet__mode", "token_symbol", "token_address"),
        "live_wallet": live,
        "reconcile": getattr(live, "reconcile", None) if live else None,
        "free_wallets": AgentWallet.objects.filter(
            owner=request.user, mode=TradingMode.LIVE, agent__isnull=True
        ).order_by("pk"),
        "shadow": shadow_report(agent) if live else None,
        "transfer_form": TransferForm(initial={"idempotency_key": uuid.uuid4()}),
        "import_form": ImportForm(),
        **forms_given,
    }
    return render(request, "trading/wallet.html", context, status=status)


def _done(request: HttpRequest, agent: Agent, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("dashboard-agent-wallet", agent_id=agent.pk)


@login_required
@require_http_methods(["GET"])
def agent_wallet(request: HttpRequest, agent_id: int) -> HttpResponse:
    return _page(request, owned_agent(request, agent_id))


@login_required
@require_POST
def wallet_transfer(request: HttpRequest, agent_id: int) -> HttpResponse:
    agent = owned_agent(request, agent_id)
    form = TransferForm(request.POST)
    if form.is_valid():
        wallet = get_object_or_404(AgentWallet, agent=agent, mode=TradingMode.SIMULATION)
        data = form.cleaned_data
        try:
            entry, written = balance_transfer(
                wallet=wallet,
                kind=data["kind"],
                amount=data["amount"],
                idempotency_key=str(data["idempotency_key"]),
            )
        except DomainError as error:
            add_service_error(form, _on_amount(error))
        else:
            what = "Deposited" if entry.type == TransactionType.DEPOSIT else "Withdrew"
            note = "" if written else " (already recorded: this form was sent before)"
            return _done(request, agent, f"{what} {money.as_str(entry.input_amount)} SOL{note}.")
    return _page(request, agent, 400, transfer_form=form)


def _on_amount(error: DomainError) -> ValidationError:
    """A transfer's refusal is about its amount (invalid_amount, insufficient_balance)."""
    return ValidationError({"amount": [error.message]})


@login_required
@require_POST
def live_wallet_create(request: HttpRequest, agent_id: int) -> HttpResponse:
    agent = owned_agent(request, agent_id)
    wallet = wallet_create_live(owner=request.user)
    return _done(request, agent, f"Created the live wallet {wallet.address}; assign it below.")


@login_required
@require_POST
def live_wallet_import(request: HttpRequest, agent_id: int) -> HttpResponse:
    agent = owned_agent(request, agent_id)
    form = ImportForm(request.POST)
    if form.is_valid():
        try:
            wallet = wallet_import(owner=request.user, secret=form.cleaned_data["secret"])
        except DomainError as error:
            add_service_error(form, error)
        else:
            return _done(request, agent, f"Imported the live wallet {wallet.address}.")
    return _page(request, agent, 400, import_form=form)


def _owned_wallet(request: HttpRequest, address: str) -> AgentWallet:
    return get_object_or_404(AgentWallet, address=address, owner=request.user)


def _refused(request: HttpRequest, agent: Agent, error: DomainError) -> HttpResponse:
    messages.error(request, error.message)
    return redirect("dashboard-agent-wallet", agent_id=agent.pk)


@login_required
@require_POST
def live_wallet_assign(request: HttpRequest, agent_id: int, address: str) -> HttpResponse:
    agent = owned_agent(request, agent_id)
    wallet = _owned_wallet(request, address)
    try:
        wallet_assign(wallet=wallet, agent=agent)
    except DomainError as error:
        return _refused(request, agent, error)
    return _done(request, agent, f"Assigned {wallet.address} to {agent.name}.")


@login_required
@require_POST
def live_wallet_unassign(request: HttpRequest, agent_id: int, address: str) -> HttpResponse:
    agent = owned_agent(request, agent_id)
    wallet = get_object_or_404(AgentWallet, address=address, owner=request.user, agent=agent)
    if not request.POST.get("confirm"):
        return render(request, "trading/confirm_unassign.html", {"agent": agent, "wallet": wallet})
    try:
        wallet_unassign(wallet=wallet)
    except DomainError as error:
        return _refused(request, agent, error)
    return _done(request, agent, f"Unassigned {wallet.address}; it stays in the keystore.")


@login_required
@require_POST
def live_wallet_check(request: HttpRequest, agent_id: int, address: str) -> HttpResponse:
    """Check deposits: reconcile the live wallet with the chain now."""
    agent = owned_agent(request, agent_id)
    wallet = get_object_or_404(AgentWallet, address=address, owner=request.user, agent=agent)
    try:
        outcome = wallet_reconcile(wallet=wallet)
    except DomainError as error:
        return _refused(request, agent, error)
    except ExternalServiceError as error:
        messages.error(request, f"The chain could not be read: {error}. Nothing was recorded.")
        return redirect("dashboard-agent-wallet", agent_id=agent.pk)
    if outcome.deposit is not None:
        amount = money.as_str(outcome.deposit.input_amount)
        return _done(request, agent, f"Found and recorded a deposit of {amount} SOL.")
    return _done(request, agent, "No new deposit on chain.")
