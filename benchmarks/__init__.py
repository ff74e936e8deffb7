"""Speed and memory benchmarks: ratios against plain PyTorch, measured side by side.

Run them all with ``python -m benchmarks`` (or ``make bench``); each
``bench_*.py`` module in this folder exposes ``main()``.
"""
