"""The query-string forms of the trades and transactions pages: filters and a page window."""

from django import forms

from trading.history_selectors import CLOSE_REASON_WORDS, HistoryFilter
from trading.models import TransactionType

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class _HistoryForm(forms.Form):
    token = forms.CharField(required=False, max_length=64, strip=True)
    date_from = forms.DateField(required=False, label="From (UTC)")
    date_to = forms.DateField(required=False, label="To (UTC)")
    limit = forms.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT)
    offset = forms.IntegerField(required=False, min_value=0)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "Must not be before the start date.")
        return cleaned

    def _valid(self, name, default=None):
        """A field's cleaned value, or `default` when it is empty or invalid: a page shows the
        errors and filters by the rest."""
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        value = self.cleaned_data.get(name)
        return default if value in (None, "") else value

    def history_filter(self) -> HistoryFilter:
        return HistoryFilter(
            kind=self._valid(self.kind_field, ""),
            token=self._valid("token", ""),
            date_from=self._valid("date_from"),
            date_to=self._valid("date_to"),
        )

    def window(self) -> tuple[int, int]:
        return self._valid("limit", DEFAULT_LIMIT), self._valid("offset", 0)


class TradeFilterForm(_HistoryForm):
    kind_field = "reason"
    reason = forms.ChoiceField(
        required=False,
        label="Close reason",
        choices=[("", "Any"), *((str(k), v) for k, v in CLOSE_REASON_WORDS.items())],
    )


class TransactionFilterForm(_HistoryForm):
    kind_field = "type"
    type = forms.ChoiceField(
        required=False,
        choices=[("", "Any"), *((t.value, t.label.capitalize()) for t in TransactionType)],
    )
