"""Where the versioned API lives.

Each API router carries the whole prefix itself, so its routes' paths are the full templates
(`/api/v1/orders/{order_id}`) that metrics and access logs label requests with: FastAPI keeps
a prefix given at include time outside the route.
"""

API_PREFIX = "/api/v1"
