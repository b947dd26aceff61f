"""Backtesting: replay bars through an unmodified registered strategy with simulated fills."""
