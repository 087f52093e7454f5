"""chatsvc's benchmark: a C load generator and a runner comparing servers.

Run ``python -m bench --help``; see docs/performance.rst for the figures.
"""
