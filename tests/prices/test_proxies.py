"""Provider requests honour the environment's proxy settings (HTTP_PROXY, NO_PROXY)."""

import pytest

from nexgent.http import ExternalServiceError
from prices import providers
from tests.localnet.support import WSOL

# The discard port: nothing listens, so a request sent through this proxy fails.
DEAD_PROXY = "http://127.0.0.1:9"


def _quote(base_url: str, token: str, http) -> dict:
    return providers.get(
        providers.JUPITER_QUOTE,
        f"{base_url}/swap/v1/quote",
        params={"inputMint": WSOL, "outputMint": token, "amount": "1000000000"},
        parse=lambda response: response.json(),
        http=http,
    )


def test_the_request_goes_through_the_proxy_the_environment_names(
    localnet, market, token, environment
):
    environment.setenv("HTTP_PROXY", localnet.url)

    # Only the proxy can reach this host: localnet answers the proxied request.
    quote = _quote("http://jupiter.invalid", token, providers.new_session())

    assert quote["outputMint"] == token
    assert len(market.recorded("jupiter_quote")) == 1


def test_no_proxy_exempts_its_hosts(localnet, token, environment):
    environment.setenv("HTTP_PROXY", DEAD_PROXY)
    with pytest.raises(ExternalServiceError, match="request failed"):
        _quote(localnet.url, token, providers.new_session())

    environment.setenv("NO_PROXY", "127.0.0.1")

    assert _quote(localnet.url, token, providers.new_session())["outputMint"] == token
