"""The dependencies routers take: one typed alias per service (`OrderServiceDep`, ...),
the request's unit of work, who is calling, and paging.

Routers get their services only from here and never walk the container; each dependency is
`async def` (FastAPI runs a plain `def` one in its thread pool) and reads the container through
`container_of` directly rather than through another dependency: FastAPI solves every node of a
dependency tree on each request, cached or not, so a flat tree is cheaper.

connection.py: the container, the session / unit of work, configuration, client address;
identity.py: the caller (CurrentUser, TraderUser, AdminUser, ...); login.py: logged in (no key);
principal.py: the caller from the credentials alone (CurrentPrincipal, TraderPrincipal);
api_key.py: an X-API-Key and its scopes;
services.py: accounts and trading (OrderServiceDep, RiskSettingsDep, ...);
programs.py: API keys and webhooks;
platform.py: strategies, backtests, market history, the stream, operations;
research.py: optimisations;
parameters.py: paging and path ids;
time_range.py: `start` / `end` of the list endpoints.
"""
