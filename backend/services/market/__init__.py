"""Market history: one-minute bars recorded from every tick, imported in bulk, served, kept.

recorder (ticks -> bars in memory -> batches) -> store (merging upserts) -> market_bars;
importer (CSV, a vnpy database) -> market_bars; reading (pages, aggregation, chunks for
backtests and warm-up), coverage, partitions and retention around them.
"""
