"""An agent's risk pause ended from the dashboard, as POST agents/{id}/risk/pauses/{pid}/end
ends it: a guard that paused an agent's buys is something its owner can lift from the agent's
page, without the API or the admin. GET asks to confirm; POST ends the pause."""

from datetime import UTC, datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from trading.models import RiskPause
from trading.risk_services import risk_pause_end


@login_required
@require_http_methods(["GET", "POST"])
def risk_pause_end_page(request: HttpRequest, agent_id: int, pause_id: int) -> HttpResponse:
    # Another user's agent or pause is a 404, never a 403.
    pause = get_object_or_404(
        RiskPause.objects.select_related("agent"),
        pk=pause_id,
        agent_id=agent_id,
        agent__owner=request.user,
    )
    active = pause.is_active(datetime.now(UTC))
    if request.method == "GET":
        context = {"agent": pause.agent, "pause": pause, "active": active}
        return render(request, "trading/risk_pause_end.html", context)
    what = pause.get_reason_display().lower()
    if active:
        # The same note the API writes for a pause ended without one.
        risk_pause_end(pause=pause, note=f"ended by {request.user.email}")
        messages.success(request, f"Buying resumed: the {what} pause is ended.")
    else:
        messages.error(request, f"The {what} pause was already over.")
    return redirect("dashboard-agent", agent_id=agent_id)
