"""vnpy CTA strategies (CtaTemplate subclasses) in RedFire: engine adapters and parameters."""
