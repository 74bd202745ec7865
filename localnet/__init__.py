"""A local stand-in for Jupiter, DexScreener and Pyth Hermes, backed by a synthetic market
(localnet.market), served over HTTP by localnet.serving.LocalnetServer. Importing binds
nothing: a port is taken only when a LocalnetServer is built."""
