"""The booking's owner check, and the key claims it makes in the same statement: only owners
who may trade are booked, and only their Idempotency-Keys are claimed."""

from __future__ import annotations

from decimal import Decimal

from backend.app.container import AppContainer
from backend.core.database.base import utcnow
from backend.core.errors import AuthenticationError, ReadOnlyError
from backend.models.enums import UserRole
from backend.services.orders.idempotency import KeyClaim, distinct_claims
from backend.services.orders.owners import confirm_owners
from backend.services.orders.repository import stored_keys
from tests.services.orders.rows import new_user

BALANCE = Decimal(1_000_000)


async def test_only_owners_who_may_trade_are_confirmed_and_have_their_keys_claimed(
    container: AppContainer,
) -> None:
    trader = await new_user(container, "own-trader", UserRole.TRADER, active=True)
    gone = await new_user(container, "own-gone", UserRole.TRADER, active=False)
    viewer = await new_user(container, "own-viewer", UserRole.VIEWER, active=True)
    missing = max(trader, gone, viewer) + 1000
    claims = [KeyClaim(user_id, "k-1", "fingerprint") for user_id in (trader, gone, viewer)]
    owners = {trader, gone, viewer, missing}
    async with container.database.session() as session:
        refusals, won, reads = await confirm_owners(
            session, owners, distinct_claims(claims), utcnow(), BALANCE
        )
    assert {user_id: type(error) for user_id, error in refusals.items()} == {
        gone: AuthenticationError,
        missing: AuthenticationError,
        viewer: ReadOnlyError,
    }
    assert won == {(trader, "k-1")}
    async with container.database.session() as session:
        stored = await stored_keys(session, [claim.ident for claim in claims])
    assert set(stored) == {(trader, "k-1")}  # no key left behind for a refused order
    # The books are read with them: the trader's, as the booking's risk checks need them.
    assert reads.open_orders[trader] == 0
    assert reads.holdings[trader].balance == BALANCE


async def test_a_key_already_claimed_is_not_won_again(container: AppContainer) -> None:
    trader = await new_user(container, "own-retry", UserRole.ADMIN, active=True)
    claim = KeyClaim(trader, "k-retry", "fingerprint")
    async with container.database.session() as session:
        first = await confirm_owners(session, {trader}, [claim], utcnow(), BALANCE)
    async with container.database.session() as session:
        second = await confirm_owners(session, {trader}, [claim], utcnow(), BALANCE)
    assert first[:2] == ({}, {(trader, "k-retry")})
    assert second[:2] == ({}, set())
