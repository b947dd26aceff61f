"""Research: parameter optimisation over backtests, off the trading path."""
