"""Order intake: orders placed at the same moment share their transactions (group commit).

Callers validate an order against its contract, then hand it to OrderIntake and wait. Its
worker (batcher.py) books whatever has queued up (half of a deep queue) in one transaction
(booking.py: strategy ownership, client order ids and amendments, then owners who may still
trade, their idempotency claims and their books, in one statement, pre-trade risk in
pretrade.py, the rows; transactions.py begins the next one while this one commits) and commits;
the accepted orders are then routed to the gateway (routing.py) and their acknowledgements and
idempotent answers recorded in a second transaction (acknowledgement.py; on PostgreSQL one
statement when the gateway took every order), while the worker books the next batch. A 201
still means the order was committed before the gateway heard of it, so a crash leaves a row
that start-up reconciliation settles, never a gateway order RedFire forgot; only the commits
are shared, so sixty concurrent orders cost two transactions instead of sixty. The second
transaction records the submissions itself, so the gateway's acknowledgements of these orders
are held and then dropped (events.py), and it announces the orders it moved to `submitted`,
and the batch's rejected ones (by risk or by the gateway) to the rejection listeners (the
stream).
"""

from backend.services.orders.intake.batcher import OrderIntake
from backend.services.orders.intake.submission import OrderResult

__all__ = ["OrderIntake", "OrderResult"]
