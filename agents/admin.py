from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from agents.models import (
    Agent,
    ApiKey,
    EquityPeak,
    KillSwitch,
    KillSwitchMode,
    RiskPause,
    User,
)
from agents.risk_services import kill_switch_set, risk_pause_end
from agents.services import api_key_revoke


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = [
        "email",
        "is_staff",
        "is_active",
        "failed_login_count",
        "locked_until",
        "last_login",
    ]
    search_fields = ["email"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (
            "Security",
            {"fields": ("failed_login_count", "locked_until", "last_login", "date_joined")},
        ),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    readonly_fields = ["last_login", "date_joined"]


class RiskPauseInline(admin.TabularInline):
    """The agent's pauses on its page: why its buys stopped, and when they resume."""

    model = RiskPause
    extra = 0
    can_delete = False
    fields = ["reason", "started_at", "until", "ended_at", "end_note", "details"]
    readonly_fields = fields
    ordering = ["-started_at"]
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "owner",
        "trading_mode",
        "automated_trading_simulation",
        "automated_trading_live",
        "is_active",
        "created_at",
    ]
    list_filter = [
        "trading_mode",
        "is_active",
        "automated_trading_simulation",
        "automated_trading_live",
    ]
    search_fields = ["name", "owner__email"]
    list_select_related = ["owner"]
    actions = ["pause_automation", "resume_automation"]
    inlines = [RiskPauseInline]

    @admin.action(description="Pause automated trading (both modes)")
    def pause_automation(self, request, queryset):
        count = queryset.update(automated_trading_simulation=False, automated_trading_live=False)
        self.message_user(
            request,
            f"Paused {count} agent(s); open positions are no longer managed.",
            messages.WARNING,
        )

    @admin.action(description="Resume automated trading (simulation)")
    def resume_automation(self, request, queryset):
        count = queryset.update(automated_trading_simulation=True)
        self.message_user(request, f"Resumed simulation trading for {count} agent(s).")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "owner",
        "prefix",
        "scopes",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "owner__email"]
    list_select_related = ["owner"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        # Keys are created through the API, where the raw key can be shown once.
        return False

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            api_key_revoke(key=key)
        self.message_user(request, "Revoked.")


class ActivePauseFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("ended", "Ended")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(ended_at__isnull=True)
        if self.value() == "ended":
            return queryset.filter(ended_at__isnull=False)
        return queryset


@admin.register(RiskPause)
class RiskPauseAdmin(admin.ModelAdmin):
    """Every pause a risk guard recorded, with its reason and figures; ending one resumes
    the agent's buys (a drawdown pause also restarts the equity peak)."""

    list_display = ["id", "agent", "reason", "started_at", "until", "ended_at", "end_note"]
    list_filter = ["reason", ActivePauseFilter]
    search_fields = ["agent__name", "agent__owner__email"]
    list_select_related = ["agent"]
    readonly_fields = [f.name for f in RiskPause._meta.fields]
    actions = ["end_pauses"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="End selected pauses (resume buys)")
    def end_pauses(self, request, queryset):
        ended = 0
        for pause in queryset.filter(ended_at__isnull=True):
            risk_pause_end(pause=pause, note=f"ended by {request.user.email} in the admin")
            ended += 1
        self.message_user(request, f"Ended {ended} pause(s).")


@admin.register(KillSwitch)
class KillSwitchAdmin(admin.ModelAdmin):
    """The global kill switch: one row, added the first time an operator sets it; change its
    mode in the form or with the actions."""

    list_display = ["mode", "set_by", "set_at", "note"]
    fields = ["mode", "note", "set_by", "set_at"]
    readonly_fields = ["set_by", "set_at"]
    actions = ["halt", "reduce_only", "switch_off"]

    def has_add_permission(self, request):
        return not KillSwitch.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Through the service, so who set it and when are always recorded.
        switch = kill_switch_set(mode=obj.mode, user=request.user, note=obj.note)
        obj.pk, obj.set_by, obj.set_at = switch.pk, switch.set_by, switch.set_at

    def _set(self, request, mode: str) -> None:
        kill_switch_set(mode=mode, user=request.user, note=f"set in the admin by {request.user}")
        self.message_user(
            request,
            f"Kill switch: {KillSwitchMode(mode).label}.",
            messages.WARNING if mode != KillSwitchMode.OFF else messages.SUCCESS,
        )

    @admin.action(description="HALT: no buys and no sells")
    def halt(self, request, queryset):
        self._set(request, KillSwitchMode.HALT)

    @admin.action(description="Reduce only: sells only")
    def reduce_only(self, request, queryset):
        self._set(request, KillSwitchMode.REDUCE_ONLY)

    @admin.action(description="Switch off: trade normally")
    def switch_off(self, request, queryset):
        self._set(request, KillSwitchMode.OFF)


@admin.register(EquityPeak)
class EquityPeakAdmin(admin.ModelAdmin):
    list_display = ["wallet", "peak_sol", "peak_at"]
    list_select_related = ["wallet"]
    readonly_fields = ["wallet", "peak_sol", "peak_at"]

    def has_add_permission(self, request):
        return False
