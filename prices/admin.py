from django.contrib import admin

from prices.models import PriceSample, Token


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    list_display = ["mint", "symbol", "name", "decimals", "updated_at"]
    search_fields = ["mint", "symbol", "name"]


@admin.register(PriceSample)
class PriceSampleAdmin(admin.ModelAdmin):
    list_display = ["token_address", "price_sol", "price_usd", "source", "observed_at"]
    search_fields = ["token_address"]
    list_filter = ["source"]
    show_full_result_count = False
