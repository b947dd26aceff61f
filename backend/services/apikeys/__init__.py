"""API keys: scoped credentials for programs (guard.py checks them, service.py manages them)."""
