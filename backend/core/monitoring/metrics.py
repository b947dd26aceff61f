"""Every Prometheus metric RedFire exports, defined in one place.

Dashboards and alert rules (grafana/, prometheus/) are checked against these names by tests.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, Info

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# HTTP layer
HTTP_REQUESTS = Counter(
    "redfire_http_requests_total",
    "HTTP requests by method, route template and status class",
    ["method", "route", "status_class"],
)
HTTP_REQUEST_DURATION = Histogram(
    "redfire_http_request_duration_seconds",
    "HTTP request duration by method, route template and status class",
    ["method", "route", "status_class"],
    buckets=LATENCY_BUCKETS,
)
HTTP_REQUESTS_IN_PROGRESS = Gauge(
    "redfire_http_requests_in_progress", "HTTP requests being served", ["method"]
)
APP_INFO = Info("redfire_app", "RedFire build and environment")
APP_READY = Gauge("redfire_ready", "1 when /health/ready last answered ready, else 0")

# performance_monitor
FUNCTION_DURATION = Histogram(
    "redfire_function_duration_seconds",
    "Duration of functions wrapped by performance_monitor",
    ["function", "outcome"],
    buckets=LATENCY_BUCKETS,
)

# Dependencies
CACHE_REQUESTS = Counter(
    "redfire_cache_requests_total", "Cache look-ups by backend and result", ["backend", "result"]
)
CACHE_ERRORS = Counter(
    "redfire_cache_errors_total", "Cache backend errors by operation", ["operation"]
)
DB_POOL_CONNECTIONS = Gauge(
    "redfire_db_pool_connections", "Database pool connections by state", ["state"]
)
DEPENDENCY_UP = Gauge("redfire_dependency_up", "1 when a dependency is healthy", ["dependency"])

# Authentication
PASSWORD_HASHES_REFUSED = Counter(
    "redfire_password_hashes_refused_total",
    "Logins, registrations and password changes answered 503 busy: every hashing slot taken",
)

# Market data and the vnpy bridge
TICKS = Counter("redfire_ticks_total", "Ticks received from gateways", ["symbol"])
BRIDGE_EVENTS = Counter(
    "redfire_event_bridge_events_total", "vnpy events delivered into asyncio", ["event_type"]
)
BRIDGE_DROPPED = Counter(
    "redfire_event_bridge_dropped_total", "vnpy events dropped by the bridge", ["event_type"]
)
BRIDGE_LAG = Histogram(
    "redfire_event_bridge_lag_seconds",
    "Delay between a vnpy event and its asyncio delivery",
    buckets=LATENCY_BUCKETS,
)
BRIDGE_QUEUE_DEPTH = Gauge("redfire_event_bridge_queue_depth", "Events waiting in the bridge")
BRIDGE_ERRORS = Counter(
    "redfire_event_bridge_errors_total",
    "vnpy events the bridge could not translate or a subscriber failed on",
    ["event_type", "stage"],
)
WS_CONNECTIONS = Gauge("redfire_ws_connections", "Open WebSocket connections")
WS_DROPPED_CLIENTS = Counter(
    "redfire_ws_dropped_clients_total", "WebSocket clients dropped for being too slow"
)
WS_REFUSED_PENDING = Counter(
    "redfire_ws_refused_pending_total",
    "WebSocket connections closed 1008: their address had too many awaiting authentication",
)
STREAM_BUS_ERRORS = Counter(
    "redfire_stream_bus_errors_total",
    "Event bus failures (publish, outbox_full, receive, decode); publishers never see them",
    ["operation"],
)

# Orders
ORDERS = Counter("redfire_orders_total", "Order status transitions", ["status", "side"])
ORDER_REJECTIONS = Counter(
    "redfire_order_rejections_total", "Orders rejected, by reason", ["reason"]
)
TRADING_HALTED = Gauge("redfire_trading_halted", "1 while the kill switch is engaged")
# Read when scraped: nothing to update on the hot path.
ORDER_INTAKE_QUEUED = Gauge(
    "redfire_order_intake_queued", "Validated orders waiting for their batch to be booked"
)
ORDER_EVENTS_QUEUED = Gauge(
    "redfire_order_events_queued", "Gateway order and trade events waiting to be booked"
)
IDEMPOTENCY_KEYS_PURGED = Counter(
    "redfire_idempotency_keys_purged_total", "Expired Idempotency-Keys deleted"
)
PAPER_MARKET_LEADER = Gauge(
    "redfire_paper_market_leader",
    "1 while this process walks the PAPER market's prices (for every replica, with Redis)",
)
CANCELS_RELAYED = Counter(
    "redfire_cancels_relayed_total",
    "Cancels of another replica's orders handed to that replica, by outcome "
    "(delivered, unheard: the owner was not listening, failed: Redis refused)",
    ["outcome"],
)
ORDER_BATCH_SIZE = Histogram(
    "redfire_order_batch_size",
    "Orders booked together in one transaction by the order intake",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)

# Replicas
DEPARTED_REPLICAS = Counter(
    "redfire_departed_replicas_total",
    "Departed replicas whose open orders and backtests this replica settled",
)
HEARTBEAT_LOST = Counter(
    "redfire_replica_heartbeat_lost_total",
    "Times this replica found itself settled as departed while it was still running",
)

# Strategies
ACTIVE_STRATEGIES = Gauge("redfire_active_strategies", "Strategies running on this replica")
STRATEGIES_IN_ERROR = Gauge("redfire_strategies_in_error", "Strategies stopped by an error")
STRATEGY_TICKS = Counter(
    "redfire_strategy_ticks_processed_total", "Ticks processed per strategy", ["strategy_id"]
)
STRATEGY_ORDERS = Counter(
    "redfire_strategy_orders_total", "Orders placed per strategy", ["strategy_id"]
)

# Market history (services/market).
BARS_WRITTEN = Counter(
    "redfire_bars_written_total", "Recorded bars written (merged) into market_bars"
)
BARS_IMPORTED = Counter("redfire_bars_imported_total", "Bars imported (CSV or a vnpy database)")
BAR_WRITE_ERRORS = Counter(
    "redfire_bar_write_errors_total", "Batches of recorded bars or ticks that failed to write"
)
BARS_DROPPED = Counter(
    "redfire_bars_dropped_total", "Recorded bars or ticks dropped: too many waiting to be written"
)
BARS_PENDING = Gauge("redfire_bars_pending", "Recorded bars and ticks waiting to be written")

# Research jobs (parameter optimisations).
RESEARCH_JOBS_QUEUED = Gauge(
    "redfire_research_jobs_queued", "Optimisations waiting for a slot on this replica"
)
RESEARCH_JOBS_RUNNING = Gauge("redfire_research_jobs_running", "Optimisations running here")
RESEARCH_JOBS = Counter(
    "redfire_research_jobs_total", "Optimisations ended, by outcome", ["outcome"]
)
RESEARCH_JOB_DURATION = Histogram(
    "redfire_research_job_duration_seconds",
    "From start to end of an optimisation",
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
RESEARCH_COMBINATIONS = Counter(
    "redfire_research_combinations_total", "Combinations done (each one backtest, or refused)"
)
# procrastinate's queue (PostgreSQL engine), read from its table by every API replica (each
# reports the same numbers: aggregate with max).
RESEARCH_QUEUE_JOBS = Gauge(
    "redfire_research_queue_jobs",
    "Research jobs in procrastinate's queue: todo (waiting for a worker) or doing",
    ["status"],
)
RESEARCH_QUEUE_OLDEST_TODO = Gauge(
    "redfire_research_queue_oldest_todo_seconds",
    "How long the oldest research job waiting for a worker has waited (0: none waits)",
)
# Observed by whoever starts the job (a `redfire worker`, or the API's local pool).
RESEARCH_JOB_WAIT = Histogram(
    "redfire_research_job_wait_seconds",
    "From enqueue (the row stored) to start (claimed) of a research job's first run",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)
