"""UserAdministration: account changes, and what follows them once they are committed."""

from __future__ import annotations

from backend.core.database.unit_of_work import UnitOfWork
from backend.models.enums import UserRole
from backend.models.user import User
from backend.services.auth.access import AccessGuard
from backend.services.orders.service import OrderService
from backend.services.strategy.engine import StrategyEngine
from backend.services.strategy.service import stop_strategies_of
from backend.services.users.service import UserService


class UserAdministration:
    """Changes to who may act; the caches, strategies and orders follow after the commit."""

    def __init__(
        self,
        users: UserService,
        *,
        access: AccessGuard,
        strategies: StrategyEngine,
        orders: OrderService,
    ) -> None:
        self.users = users
        self.access = access
        self.strategies = strategies
        self.orders = orders

    async def update_profile(
        self,
        work: UnitOfWork,
        user: User,
        *,
        full_name: str | None,
        email: str | None,
        password: str | None,
    ) -> User:
        """One's own name, email or password; a new password ends every session at once."""
        updated = await self.users.update_profile(
            work.session, user, full_name=full_name, email=email, password=password
        )
        self._forget_after_commit(work, updated.id)
        return updated

    async def administer(
        self,
        work: UnitOfWork,
        *,
        actor: User,
        user_id: int,
        is_active: bool | None,
        role: UserRole | None,
    ) -> User:
        """Activate, deactivate or change the role of a user. Deactivation ends every session
        of that user; deactivation and the viewer role stop the user's running strategies
        and cancel their open orders, once the change is committed."""
        user = await self.users.administer(
            work.session, actor=actor, user_id=user_id, is_active=is_active, role=role
        )
        target = user.id
        may_trade = user.is_active and user.role is not UserRole.VIEWER
        stopped = [] if may_trade else await stop_strategies_of(work.session, target)
        self._forget_after_commit(work, target)
        if may_trade:
            return user

        async def stop_and_cancel() -> None:
            for strategy_id in stopped:
                await self.strategies.stop_strategy(strategy_id)
            await self.orders.cancel_open_orders_of(work.session, target)

        work.after_commit(stop_and_cancel)
        return user

    def _forget_after_commit(self, work: UnitOfWork, user_id: int) -> None:
        # Every replica sees the change on its next check; the row must be committed first.
        async def forget() -> None:
            await self.access.forget(user_id)

        work.after_commit(forget)
