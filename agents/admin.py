from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError

from agents.backends import login_refusal_of
from agents.models import Agent, ApiKey, NotificationChannel, User
from agents.notification_services import (
    notification_channel_delete,
    notification_channel_test,
    notification_channel_update,
)
from agents.services import AGENT_EDITABLE_FIELDS, agent_create, agent_update, api_key_revoke


class GuardedAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's login behind the same guard as the API and the dashboard, saying so when
    the guard refused."""

    def get_invalid_login_error(self):
        refusal = login_refusal_of(self.request)
        if refusal is not None:
            return ValidationError(refusal.message, code=refusal.code)
        return super().get_invalid_login_error()


admin.site.login_form = GuardedAdminAuthenticationForm


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "is_staff", "is_active", "last_login"]
    search_fields = ["email"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (
            "Security",
            {"fields": ("last_login", "date_joined")},
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

    def save_model(self, request, obj, form, change):
        # Through the same services as the API: an added agent gets its wallet in the same
        # transaction, and both validate the same way.
        fields = {name: form.cleaned_data[name] for name in form.cleaned_data}
        editable = {name: value for name, value in fields.items() if name in AGENT_EDITABLE_FIELDS}
        if change:
            changed = {name: editable[name] for name in form.changed_data if name in editable}
            agent_update(agent=obj, **changed)
        else:
            created = agent_create(owner=fields["owner"], **editable)
            obj.pk, obj.created_at, obj.updated_at = (
                created.pk,
                created.created_at,
                created.updated_at,
            )

    @admin.action(description="Pause automated trading (both modes)")
    def pause_automation(self, request, queryset):
        for agent in queryset:
            agent_update(
                agent=agent, automated_trading_simulation=False, automated_trading_live=False
            )
        self.message_user(
            request,
            f"Paused {len(queryset)} agent(s); open positions are no longer managed.",
            messages.WARNING,
        )

    @admin.action(description="Resume automated trading (simulation)")
    def resume_automation(self, request, queryset):
        for agent in queryset:
            agent_update(agent=agent, automated_trading_simulation=True)
        self.message_user(request, f"Resumed simulation trading for {len(queryset)} agent(s).")


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


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    """Operators' channels, their URL masked (scheme only): it holds the service's credentials
    and is stored encrypted. Channels are added on the owner's settings page, where the URL is
    checked; here they are switched on or off, tested or deleted, all through the services."""

    list_display = [
        "id",
        "label",
        "owner",
        "masked_url",
        "events",
        "enabled",
        "last_sent_at",
        "last_error",
    ]
    list_filter = ["enabled"]
    search_fields = ["label", "owner__email"]
    list_select_related = ["owner"]
    fields = [
        "label",
        "owner",
        "masked_url",
        "events",
        "enabled",
        "created_at",
        "last_sent_at",
        "last_error",
    ]
    readonly_fields = fields
    actions = ["enable", "disable", "send_test"]

    @admin.display(description="URL")
    def masked_url(self, channel):
        return channel.masked_url

    def has_add_permission(self, request):
        return False

    def delete_model(self, request, obj):
        notification_channel_delete(channel=obj)

    def delete_queryset(self, request, queryset):
        for channel in queryset:
            notification_channel_delete(channel=channel)

    @admin.action(description="Enable selected channels")
    def enable(self, request, queryset):
        for channel in queryset:
            notification_channel_update(channel=channel, enabled=True)
        self.message_user(request, "Enabled.")

    @admin.action(description="Disable selected channels")
    def disable(self, request, queryset):
        for channel in queryset:
            notification_channel_update(channel=channel, enabled=False)
        self.message_user(request, "Disabled.")

    @admin.action(description="Send a test notification")
    def send_test(self, request, queryset):
        for channel in queryset:
            delivery = notification_channel_test(channel=channel)
            if delivery.ok:
                self.message_user(request, f"{channel.label}: sent.")
            else:
                self.message_user(
                    request, f"{channel.label}: failed: {delivery.error}", messages.ERROR
                )
