"""A local stand-in for Jupiter, DexScreener, Pyth Hermes and Solana RPC, backed by a synthetic
market (localnet.market) and a real SVM (localnet.svm), served over HTTP by
localnet.serving.LocalnetServer. Importing binds nothing: a port is taken only when a
LocalnetServer is built."""
