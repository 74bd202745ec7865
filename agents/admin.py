from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from agents.models import Agent, ApiKey, User
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
