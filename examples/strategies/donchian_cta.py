"""A vnpy CTA strategy: a CtaTemplate subclass, exactly as vnpy_ctastrategy runs it (see README,
"Bring your own strategy"). Put a file like this in a directory named by STRATEGY__PATHS."""

from vnpy_ctastrategy import ArrayManager, BarData, CtaTemplate


class DonchianCtaStrategy(CtaTemplate):
    """Donchian channel breakout by stop orders; exits on the shorter channel's other side."""

    author = "RedFire example"

    entry_window: int = 20
    exit_window: int = 10
    fixed_size: int = 1

    entry_up: float = 0.0
    entry_down: float = 0.0
    exit_up: float = 0.0
    exit_down: float = 0.0

    parameters = ["entry_window", "exit_window", "fixed_size"]
    variables = ["entry_up", "entry_down", "exit_up", "exit_down"]

    def on_init(self) -> None:
        """Warm up on a day of history (settings.start in a RedFire backtest)."""
        self.am = ArrayManager(size=max(self.entry_window, self.exit_window) + 1)
        self.load_bar(1)

    def on_bar(self, bar: BarData) -> None:
        """Replace the stop orders each bar."""
        self.cancel_all()
        am = self.am
        am.update_bar(bar)
        if not am.inited:
            return
        self.entry_up, self.entry_down = am.donchian(self.entry_window)
        self.exit_up, self.exit_down = am.donchian(self.exit_window)
        if self.pos == 0:
            self.buy(self.entry_up, self.fixed_size, stop=True)
            self.short(self.entry_down, self.fixed_size, stop=True)
        elif self.pos > 0:
            self.sell(self.exit_down, abs(self.pos), stop=True)
        else:
            self.cover(self.exit_up, abs(self.pos), stop=True)
        self.put_event()
