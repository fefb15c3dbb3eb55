"""Scripts that drive the whole app in a real browser.

``python -m tools.bench_app`` (start-up time) and ``python -m tools.take_screenshots``.
"""
