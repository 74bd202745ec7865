"""Content negotiation. Kept apart from nexgent.api because DRF loads it from its settings."""

from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    """An unknown `?format=` is the client's mistake in a parameter (400 naming `format`),
    not a missing page: DRF's own answer is a 404, as if the path did not exist."""

    def filter_renderers(self, renderers, format):
        matching = [renderer for renderer in renderers if renderer.format == format]
        if not matching:
            known = ", ".join(sorted({renderer.format for renderer in renderers}))
            raise ValidationError({self.settings.URL_FORMAT_OVERRIDE: [f"must be one of {known}"]})
        return matching
