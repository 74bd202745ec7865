"""A local stand-in for Jupiter, DexScreener and Pyth Hermes, backed by a synthetic market.

Importing binds nothing: a port is taken only when a LocalnetServer is built.
"""

from localnet.market import SyntheticMarket
from localnet.serving import LocalnetServer

__all__ = ["LocalnetServer", "SyntheticMarket"]
