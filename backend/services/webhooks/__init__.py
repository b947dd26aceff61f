"""Webhooks: definitions (service.py) and deliveries turned into orders (intake.py)."""
