"""The composition root: builds every service and registers its lifecycle hooks.

It sits above core and services (nothing below imports it); `backend.main` uses it.
"""
