"""Live events: the cross-replica event bus, the publisher and the WebSocket hub."""
