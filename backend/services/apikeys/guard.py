"""ApiKeyGuard: `X-API-Key` -> KeyHolder, with the database as the record.

A key is looked up by its public id, and its secret compared (timing-safe) with the stored
HMAC digest. What a lookup found (the key's row and its owner's access) is remembered in
process for a few seconds, and only within the invalidation epoch it was read in (see
core/cache/invalidation.py): revoking a key, and any change to its owner's access
(deactivation, demotion, a new password), publishes the owner's invalidation, so every
replica reads the database again on the next request. While Redis is away no epoch is
current and every request reads the database: a revoked key is never accepted from memory.

Failures are counted per client address (the brute-force limit: 429 once over, even for a
right key); the count falls back to this process's memory when Redis is away, as login's.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select, update

from backend.core.cache.invalidation import Invalidations
from backend.core.database.base import utcnow
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.errors import AuthenticationError, PermissionDeniedError
from backend.core.security.keyed_hash import SecretDigester, parse_api_key
from backend.core.security.rate_limit import RateLimiter
from backend.core.security.revocation import invalidated_user
from backend.models.api_key import ApiKey
from backend.models.enums import UserRole
from backend.models.user import User

logger = structlog.get_logger(__name__)

REMEMBER_SECONDS = 5.0
MAX_REMEMBERED_KEYS = 10_000
TRADE_SCOPE = "trade"
READ_SCOPE = "read"
ROLE_RANK = {UserRole.VIEWER: 0, UserRole.TRADER: 1, UserRole.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class KeyHolder:
    """Who a valid API key acts for, and what it may do."""

    key_id: int
    public_id: str
    user_id: int
    role: UserRole
    scopes: frozenset[str]
    expires_at: datetime | None

    @property
    def may_trade(self) -> bool:
        """True for a key with the `trade` scope."""
        return TRADE_SCOPE in self.scopes


@dataclass(frozen=True, slots=True)
class _KeyRecord:
    """A key's row and its owner's access, as one database read found them."""

    key_id: int
    user_id: int
    secret_hash: str
    scopes: frozenset[str]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    granted_role: UserRole
    expires_at: datetime | None
    revoked: bool
    owner_active: bool
    owner_role: UserRole
    epoch: int | None
    remembered_until: float


def _invalid() -> AuthenticationError:
    return AuthenticationError("the API key is invalid", code="invalid_api_key")


class ApiKeyGuard:
    """Checks API keys; remembers valid lookups briefly, forgets them on invalidation."""

    def __init__(
        self,
        database: AsyncDatabaseManager,
        invalidations: Invalidations,
        digester: SecretDigester,
        failures: RateLimiter,
        *,
        last_used_interval: float,
    ) -> None:
        self.database = database
        self.invalidations = invalidations
        self.digester = digester
        self.failures = failures
        self.last_used_interval = last_used_interval
        self._records: dict[str, _KeyRecord] = {}
        self._last_used: dict[str, float] = {}  # by public id
        invalidations.add_listener(self._invalidated)

    async def authenticate(self, raw: str, *, client_ip: str) -> KeyHolder:
        """The holder of a valid key; 401 otherwise, 403 from a network the key excludes,
        429 after too many failures from this address."""
        await self.failures.check(client_ip)
        parsed = parse_api_key(raw)
        if parsed is None:
            await self._failed(client_ip, None, "malformed")
            raise _invalid()
        public_id, secret = parsed
        record = await self._record(public_id)
        if not self.digester.matches(secret, None if record is None else record.secret_hash):
            await self._failed(client_ip, public_id, "secret")
            raise _invalid()
        assert record is not None  # matches() is False without a record
        self._check_usable(record, public_id, client_ip)
        await self._record_use(record, public_id, client_ip)
        return KeyHolder(
            key_id=record.key_id,
            public_id=public_id,
            user_id=record.user_id,
            role=record.owner_role,
            scopes=record.scopes,
            expires_at=record.expires_at,
        )

    def _check_usable(self, record: _KeyRecord, public_id: str, client_ip: str) -> None:
        reason = None
        if record.revoked:
            reason = "revoked"
        elif record.expires_at is not None and record.expires_at <= utcnow():
            reason = "expired"
        elif (
            not record.owner_active or ROLE_RANK[record.owner_role] < ROLE_RANK[record.granted_role]
        ):
            reason = "owner"
        if reason is not None:
            logger.info("api_key_refused", key=public_id, reason=reason, client_ip=client_ip)
            code = "api_key_expired" if reason == "expired" else "api_key_revoked"
            raise AuthenticationError(f"the API key is {reason_text(reason)}", code=code)
        if record.networks and not _within(client_ip, record.networks):
            logger.info("api_key_refused", key=public_id, reason="network", client_ip=client_ip)
            raise PermissionDeniedError(
                "the API key is not allowed from this address", code="network_not_allowed"
            )

    async def _failed(self, client_ip: str, public_id: str | None, reason: str) -> None:
        logger.info("api_key_failed", key=public_id, reason=reason, client_ip=client_ip)
        await self.failures.hit(client_ip)

    async def _record(self, public_id: str) -> _KeyRecord | None:
        record = self._records.get(public_id)
        epoch = self.invalidations.epoch
        if (
            record is not None
            and epoch is not None
            and record.epoch == epoch
            and record.remembered_until > time.monotonic()
        ):
            return record
        generation = self.invalidations.generation
        record = await self._load(public_id)
        if record is not None and self.invalidations.generation == generation and epoch is not None:
            if len(self._records) >= MAX_REMEMBERED_KEYS:
                self._records.clear()
            self._records[public_id] = record
        return record

    async def _load(self, public_id: str) -> _KeyRecord | None:
        statement = (
            select(ApiKey, User.is_active, User.role)
            .join(User, User.id == ApiKey.user_id)
            .where(ApiKey.public_id == public_id)
        )
        async with self.database.session_factory() as session:
            row = (await session.execute(statement)).one_or_none()
        if row is None:
            return None
        key: ApiKey = row[0]
        return _KeyRecord(
            key_id=key.id,
            user_id=key.user_id,
            secret_hash=key.secret_hash,
            scopes=frozenset(key.scopes),
            networks=tuple(
                ipaddress.ip_network(n, strict=False) for n in key.allowed_networks or ()
            ),
            granted_role=UserRole(key.granted_role),
            expires_at=key.expires_at,
            revoked=key.revoked_at is not None,
            owner_active=row.is_active,
            owner_role=row.role,
            epoch=self.invalidations.epoch,
            remembered_until=time.monotonic() + REMEMBER_SECONDS,
        )

    async def _record_use(self, record: _KeyRecord, public_id: str, client_ip: str) -> None:
        """Write `last_used_at` (and audit the use) at most once per interval per replica."""
        now = time.monotonic()
        last = self._last_used.get(public_id)
        if last is not None and now - last < self.last_used_interval:
            return
        if len(self._last_used) >= MAX_REMEMBERED_KEYS:
            self._last_used.clear()
        self._last_used[public_id] = now
        logger.info("api_key_used", key=public_id, user_id=record.user_id, client_ip=client_ip)
        statement = update(ApiKey).where(ApiKey.id == record.key_id).values(last_used_at=utcnow())
        try:
            async with self.database.session() as session:
                await session.execute(statement)
        except Exception as exc:  # a lost timestamp must not refuse the request
            logger.warning("api_key_last_used_failed", key=public_id, error=repr(exc))

    def _invalidated(self, key: str) -> None:
        user_id = invalidated_user(key)
        if user_id is None:
            return
        for public_id in [p for p, r in self._records.items() if r.user_id == user_id]:
            self._records.pop(public_id, None)


def reason_text(reason: str) -> str:
    """How a refusal reads in the error message."""
    return {"revoked": "revoked", "expired": "expired", "owner": "no longer valid"}[reason]


def _within(
    client_ip: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> bool:
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    return any(address in network for network in networks)
