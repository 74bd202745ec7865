from django.db import models

from nexgent.fields import PriceField


class Token(models.Model):
    """What the engine knows of a mint. Decimals are never defaulted: unknown stays null."""

    mint = models.CharField(max_length=64, unique=True)
    symbol = models.CharField(max_length=32, blank=True)
    name = models.CharField(max_length=100, blank=True)
    decimals = models.PositiveSmallIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.symbol or self.mint


class PriceSample(models.Model):
    """Recorded price history, for charts and backtests."""

    token_address = models.CharField(max_length=64)
    price_sol = PriceField()
    price_usd = PriceField(null=True, blank=True)
    source = models.CharField(max_length=32)
    observed_at = models.DateTimeField()

    class Meta:
        ordering = ["-observed_at"]
        indexes = [
            models.Index(fields=["token_address", "observed_at"]),
            # The retention purge deletes by age across all tokens.
            models.Index(fields=["observed_at"]),
        ]

    def __str__(self):
        return (
            f"{self.token_address[:8]} {self.price_sol} SOL at {self.observed_at:%Y-%m-%d %H:%M:%S}"
        )
