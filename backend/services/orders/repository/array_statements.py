"""PostgreSQL statements that take a whole batch of orders or keys as arrays (see
core/database/arrays.py). SQLite runs the per-row statements of orders.py and keys.py."""

from __future__ import annotations

from typing import cast

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Integer,
    Numeric,
    String,
    Table,
    any_,
    bindparam,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql

from backend.core.database.arrays import unnest
from backend.core.database.driver import DriverStatement
from backend.models.enums import OrderStatus
from backend.models.user import User
from backend.services.orders.repository.tables import KEYS, OPEN_ORDER_COUNTS, ORDERS

NEW_ORDERS = unnest(
    "new_orders",
    user_id=Integer(),
    symbol=String(),
    side=String(),
    order_type=String(),
    quantity=Numeric(),
    price=Numeric(),
    limit_price=Numeric(),
    time_in_force=String(),
    status=String(),
    reject_reason=String(),
    reject_detail=String(),  # JSON text, parsed into the json column by the INSERT
    client_order_id=String(),
    client_ref=String(),
    strategy_id=Integer(),
    hold_price=Numeric(),
    replaces_order_id=BigInteger(),
)
_NOW = bindparam("now", type_=DateTime(timezone=True))
# The same for every order of a batch: bound once, not per row.
_BATCH_VALUES = {
    "filled_quantity": bindparam("filled_quantity", type_=Numeric()),
    "gateway": bindparam("gateway", type_=String()),
    "replica": bindparam("replica", type_=String()),
    "created_at": _NOW,
    "updated_at": _NOW,
}
# Every column back, so each answer is the row as stored (decimals at the column's scale).
INSERT_NEW_ORDERS = (
    insert(ORDERS)
    .from_select(
        [*NEW_ORDERS.c.keys(), *_BATCH_VALUES],
        select(
            *(
                column.cast(JSON) if column.name == "reject_detail" else column
                for column in NEW_ORDERS.c
            ),
            *_BATCH_VALUES.values(),
        ),
    )
    .returning(*ORDERS.c)
)

LINKED = unnest("linked", client_order_id=String(), user_id=Integer(), key=String())
_INSERTED = INSERT_NEW_ORDERS.cte("inserted")
# The batch's orders, and each keyed one's Idempotency-Key pointed at it, in one statement:
# the UPDATE finds each key by its own (user, key), as the unique index does, and its order
# among the rows the INSERT returns (it sees the keys this transaction claimed earlier).
# Answers every inserted row.
INSERT_AND_LINK_ORDERS = DriverStatement(
    select(_INSERTED).add_cte(
        update(KEYS)
        .where(
            KEYS.c.user_id == LINKED.c.user_id,
            KEYS.c.key == LINKED.c.key,
            _INSERTED.c.client_order_id == LINKED.c.client_order_id,
        )
        .values(order_id=_INSERTED.c.id)
        .cte("linked_keys")
    )
)

ROUTED = unnest("routed", id=BigInteger(), vt_orderid=String())
# pending -> submitted with each order's gateway id, guarded by the state machine.
_SUBMIT = (
    update(ORDERS)
    .where(
        ORDERS.c.id == ROUTED.c.id,
        ORDERS.c.status == any_(bindparam("sources", type_=postgresql.ARRAY(String()))),
    )
    .values(status=OrderStatus.SUBMITTED, vt_orderid=ROUTED.c.vt_orderid, updated_at=_NOW)
)
SUBMIT_ROUTED = DriverStatement(_SUBMIT.returning(*ORDERS.c))

_BOOKED = unnest("booked", user_id=Integer())
# Each user's count row, created at 0 when missing, locked until the caller commits (a
# booking of the same user on another replica waits, then reads what this one stored), and
# read as the last commit left it: ON CONFLICT DO UPDATE sees the newest version.
LOCK_OPEN_ORDER_COUNTS = DriverStatement(
    postgresql.insert(OPEN_ORDER_COUNTS)
    .from_select(
        ["user_id", "open_orders"],
        select(_BOOKED.c.user_id, literal(0)).order_by(_BOOKED.c.user_id),
    )
    .on_conflict_do_update(
        index_elements=["user_id"], set_={"open_orders": OPEN_ORDER_COUNTS.c.open_orders}
    )
    .returning(OPEN_ORDER_COUNTS.c.user_id, OPEN_ORDER_COUNTS.c.open_orders)
)

CLAIMED = unnest("claimed", user_id=Integer(), key=String(), request_hash=String())
# First writer wins each key; a concurrent uncommitted claim of one makes this wait for it.
CLAIM_KEYS = DriverStatement(
    postgresql.insert(KEYS)
    .from_select(
        ["user_id", "key", "request_hash", "created_at", "expires_at"],
        select(*CLAIMED.c, _NOW, bindparam("expires_at", type_=DateTime(timezone=True))),
    )
    .on_conflict_do_nothing(index_elements=["user_id", "key"])
    .returning(KEYS.c.user_id, KEYS.c.key)
)

USERS = cast(Table, User.__table__)
# A batch's owners read FOR SHARE (in user id order), and the keys of those active in one of
# the trading roles claimed as CLAIM_KEYS claims them: books.CLAIM_AND_BOOK_OWNERS's start.
OWNERS_FOR_SHARE = (
    select(USERS.c.id, USERS.c.is_active, USERS.c.role)
    .where(USERS.c.id == any_(bindparam("user_ids", type_=postgresql.ARRAY(Integer()))))
    .with_for_update(read=True)
    .cte("owners")
)
_MAY_TRADE = select(OWNERS_FOR_SHARE.c.id).where(
    OWNERS_FOR_SHARE.c.is_active,
    OWNERS_FOR_SHARE.c.role == any_(bindparam("trading_roles", type_=postgresql.ARRAY(String()))),
)
OWNERS_CLAIMS = (
    postgresql.insert(KEYS)
    .from_select(
        ["user_id", "key", "request_hash", "created_at", "expires_at"],
        select(*CLAIMED.c, _NOW, bindparam("expires_at", type_=DateTime(timezone=True))).where(
            CLAIMED.c.user_id.in_(_MAY_TRADE)
        ),
    )
    .on_conflict_do_nothing(index_elements=["user_id", "key"])
    .returning(KEYS.c.user_id, KEYS.c.key)
    .cte("claims")
)
# Bodies travel as JSON text: PostgreSQL parses them into the json column.
ANSWERED = unnest("answered", user_id=Integer(), key=String(), status=Integer(), body=String())
STORE_RESPONSES = DriverStatement(
    update(KEYS)
    .where(KEYS.c.user_id == ANSWERED.c.user_id, KEYS.c.key == ANSWERED.c.key)
    .values(response_status=ANSWERED.c.status, response_body=ANSWERED.c.body.cast(JSON))
)

# The acknowledgement in one statement, which commits on its own: the routed orders moved to
# submitted as SUBMIT_ROUTED moves them, and the keys' answers stored as STORE_RESPONSES
# stores them, but only for orders it moved (an answer whose `order_id` is null, an order
# rejected at booking, is final and stored in any case). Returns the ids it moved.
ANSWERS = unnest(
    "answers",
    user_id=Integer(),
    key=String(),
    status=Integer(),
    body=String(),
    order_id=BigInteger(),
)
_SUBMITTED = _SUBMIT.returning(ORDERS.c.id).cte("submitted")
SUBMIT_AND_ANSWER = DriverStatement(
    select(_SUBMITTED.c.id).add_cte(
        update(KEYS)
        .where(
            KEYS.c.user_id == ANSWERS.c.user_id,
            KEYS.c.key == ANSWERS.c.key,
            or_(ANSWERS.c.order_id.is_(None), ANSWERS.c.order_id.in_(select(_SUBMITTED.c.id))),
        )
        .values(response_status=ANSWERS.c.status, response_body=ANSWERS.c.body.cast(JSON))
        .cte("answered")
    )
)
