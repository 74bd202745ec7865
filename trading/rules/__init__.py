"""The trading rules as pure functions: plain values in, decisions out.

Nothing here imports Django or touches the database, so the rules can be checked against the
conformance vectors in isolation and evaluated for thousands of positions per price tick.
"""
