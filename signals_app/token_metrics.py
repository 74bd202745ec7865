"""Token metrics now come from prices (Jupiter Tokens v2 search through prices.providers).
This re-export stays until its last importer uses prices.services.token_metrics_fetch."""

from prices.services import token_metrics_fetch

__all__ = ["token_metrics_fetch"]
