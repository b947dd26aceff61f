"""Security: password hashing, tokens, API key digests, invalidations, rate limits and client
addresses."""

from __future__ import annotations

from dataclasses import dataclass

from backend.core.cache.invalidation import Invalidations
from backend.core.config.settings import AppConfig
from backend.core.messaging.port import Messaging
from backend.core.security.client_ip import ClientIPResolver
from backend.core.security.keyed_hash import SecretDigester, derive_pepper
from backend.core.security.passwords import PasswordHasher
from backend.core.security.rate_limit import RateLimiter
from backend.core.security.tokens import TokenCodec


@dataclass
class SecurityComponents:
    """The security building blocks one application shares across requests."""

    passwords: PasswordHasher
    tokens: TokenCodec
    invalidations: Invalidations
    login_limiter: RateLimiter
    login_ip_limiter: RateLimiter
    register_limiter: RateLimiter
    client_ip: ClientIPResolver
    digester: SecretDigester
    # Failed API key and webhook secret attempts per client address (brute force).
    credential_failures: RateLimiter
    # Authenticated deliveries per webhook.
    webhook_limiter: RateLimiter


def build_security(config: AppConfig, messaging: Messaging) -> SecurityComponents:
    """Create the components from configuration (no I/O)."""
    security = config.security
    tokens = TokenCodec(security, config.secret)
    invalidations = Invalidations(messaging)
    cache = messaging.cache
    pepper = security.api_key_pepper
    digester = SecretDigester(
        pepper.get_secret_value().encode() if pepper else derive_pepper(config.secret)
    )
    return SecurityComponents(
        passwords=PasswordHasher(security),
        tokens=tokens,
        invalidations=invalidations,
        login_limiter=RateLimiter(
            cache,
            name="login",
            limit=security.login_rate_limit,
            window=security.login_rate_window_seconds,
        ),
        login_ip_limiter=RateLimiter(
            cache,
            name="login-ip",
            limit=security.login_ip_rate_limit,
            window=security.login_ip_rate_window_seconds,
        ),
        register_limiter=RateLimiter(
            cache,
            name="register",
            limit=security.register_rate_limit,
            window=security.register_rate_window_seconds,
        ),
        client_ip=ClientIPResolver(security.trusted_proxies),
        digester=digester,
        credential_failures=RateLimiter(
            cache,
            name="credential-failures",
            limit=security.api_key_failure_limit,
            window=security.api_key_failure_window_seconds,
        ),
        webhook_limiter=RateLimiter(
            cache,
            name="webhook",
            limit=security.webhook_rate_limit,
            window=security.webhook_rate_window_seconds,
        ),
    )


__all__ = ["SecurityComponents", "build_security"]
