"""The order repository: every statement on orders, their open-order counts and their
Idempotency-Keys, for both databases.

Callers say what they want stored or read; which statement runs on which database (on
PostgreSQL one statement over arrays per batch, on SQLite a row each: see
core/database/arrays.py) is decided here, not by them.
"""

from backend.services.orders.repository.control_reads import (
    held_quantity,
    open_orders_matching,
    order_statuses,
    owned_by_client_id,
    release_client_id,
    replaced_orders,
    taken_client_ids,
)
from backend.services.orders.repository.counts import lock_open_order_counts, open_order_counts
from backend.services.orders.repository.keys import (
    answer_abandoned_keys,
    delete_keys,
    insert_keys,
    link_orders,
    purge_expired_keys,
    store_responses,
    stored_keys,
)
from backend.services.orders.repository.order_reads import (
    OWNED_ORDER,
    find_owned,
    list_orders,
    lock_orders_by_reference,
    open_order_holds,
    open_orders_of_user,
    open_orders_per_replica,
    owned,
    strategy_fills,
)
from backend.services.orders.repository.orders import (
    current_orders,
    insert_orders,
    mark_rejected,
    mark_submitted,
    submit_and_answer,
)
from backend.services.orders.repository.tables import (
    KEYS,
    OPEN_ORDER_COUNTS,
    ORDERS,
    KeyIdent,
    NewOrder,
    StoredOrder,
)

__all__ = [
    "KEYS",
    "OPEN_ORDER_COUNTS",
    "ORDERS",
    "OWNED_ORDER",
    "KeyIdent",
    "NewOrder",
    "StoredOrder",
    "answer_abandoned_keys",
    "current_orders",
    "delete_keys",
    "find_owned",
    "held_quantity",
    "insert_keys",
    "insert_orders",
    "link_orders",
    "list_orders",
    "lock_open_order_counts",
    "lock_orders_by_reference",
    "mark_rejected",
    "mark_submitted",
    "open_order_counts",
    "open_order_holds",
    "open_orders_matching",
    "open_orders_of_user",
    "open_orders_per_replica",
    "order_statuses",
    "owned",
    "owned_by_client_id",
    "purge_expired_keys",
    "release_client_id",
    "replaced_orders",
    "store_responses",
    "stored_keys",
    "strategy_fills",
    "submit_and_answer",
    "taken_client_ids",
]
