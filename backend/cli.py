"""The `redfire` command: serve, worker, migrate, create-admin, check-config, replicas,
import-bars."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from backend.core.config import AppConfig, ConfigError, config_manager


def _load() -> AppConfig:
    try:
        return config_manager.load_config()
    except ConfigError as exc:
        print(f"redfire: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from backend.core.monitoring.logging import configure_logging
    from backend.server import uvicorn_options

    config = _load()
    configure_logging(config.log_level, json_logs=config.log_json)
    drain = args.timeout_graceful_shutdown
    # uvicorn drains on SIGTERM, then re-raises it under the handler it found: this one
    # makes a completed graceful shutdown exit 0 instead of "killed by SIGTERM".
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(
        "backend.main:app",
        host=args.host or config.host,
        port=args.port or config.port,
        timeout_graceful_shutdown=int(config.hook_timeout_seconds if drain is None else drain),
        **uvicorn_options(config),
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    import asyncio

    from backend.app.worker import run_worker
    from backend.core.lifecycle.cpu_priority import lower_priority
    from backend.core.monitoring.logging import configure_logging

    config = _load()
    configure_logging(config.log_level, json_logs=config.log_json)
    if config.research_engine != "procrastinate":
        print(
            "redfire: the worker needs RESEARCH__ENGINE=procrastinate on PostgreSQL (on "
            "SQLite, `redfire serve` runs research itself)",
            file=sys.stderr,
        )
        return 2
    lower_priority(config.research.cpu_priority)  # before any thread or process is started
    asyncio.run(run_worker(config, name=args.name))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from backend.core.database.migrations import downgrade, upgrade
    from backend.core.monitoring.logging import configure_logging

    config = _load()
    configure_logging(config.log_level, json_logs=config.log_json)
    if args.downgrade:
        downgrade(config.database.url, args.revision or "base")
    else:
        upgrade(config.database.url, args.revision or "head")
    return 0


def _create_admin(args: argparse.Namespace) -> int:
    from backend.services.users.commands import create_admin

    config = _load()
    return create_admin(config, username=args.username, email=args.email)


def _replicas(args: argparse.Namespace) -> int:
    from backend.services.replicas.commands import replicas_command

    return replicas_command(_load(), departed=args.mark_departed)


def _import_bars(args: argparse.Namespace) -> int:
    from backend.services.market.commands import import_bars_command

    config = _load()
    return import_bars_command(
        config,
        path=args.file,
        symbols=args.symbol or [],
        interval=args.interval,
        vnpy_url=args.from_vnpy,
        timezone=args.timezone,
    )


def _check_config(_: argparse.Namespace) -> int:
    from sqlalchemy import make_url

    config = _load()
    database = make_url(config.database.url).render_as_string(hide_password=True)
    print(f"configuration ok: environment={config.environment} database={database}")
    for concern in config.production_concerns():
        print(f"warning: {concern}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="redfire", description="RedFire trading backend")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API with uvicorn")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument(
        "--timeout-graceful-shutdown",
        type=int,
        default=None,
        metavar="SECONDS",
        help="time open requests get to finish on SIGTERM (default: HOOK_TIMEOUT_SECONDS)",
    )
    serve.set_defaults(handler=_serve)
    worker = commands.add_parser(
        "worker", help="run research jobs (backtests, optimisations) queued in PostgreSQL"
    )
    worker.add_argument("--name", default=None, help="the worker's name in procrastinate")
    worker.set_defaults(handler=_worker)
    migrate = commands.add_parser("migrate", help="apply database migrations (alembic)")
    migrate.add_argument("--revision", default=None)
    migrate.add_argument("--downgrade", action="store_true")
    migrate.set_defaults(handler=_migrate)
    admin = commands.add_parser(
        "create-admin",
        help="create an administrator (password from REDFIRE_ADMIN_PASSWORD or a prompt)",
    )
    admin.add_argument("--username", required=True)
    admin.add_argument("--email", required=True)
    admin.set_defaults(handler=_create_admin)
    check = commands.add_parser("check-config", help="validate the configuration and exit")
    check.set_defaults(handler=_check_config)
    replicas = commands.add_parser(
        "replicas", help="list replicas (heartbeat, open orders), or mark one departed"
    )
    replicas.add_argument(
        "--mark-departed",
        metavar="REPLICA_ID",
        default=None,
        help="a replica gone for good: the next sweep of a live replica settles its orders",
    )
    replicas.set_defaults(handler=_replicas)
    bars = commands.add_parser(
        "import-bars",
        help="import bars into market history from a CSV file or a vnpy database (all or nothing)",
    )
    bars.add_argument("file", nargs="?", help="CSV with datetime, open, high, low, close, volume")
    bars.add_argument("--symbol", action="append", help="vt_symbol (repeat with --from-vnpy)")
    bars.add_argument("--interval", default="1m", help="1m, 1h or 1d (CSV only)")
    bars.add_argument(
        "--from-vnpy",
        metavar="URL",
        default=None,
        help="vnpy_sqlite file (sqlite:///path or a path) or vnpy_postgresql URL: its dbbardata",
    )
    bars.add_argument(
        "--timezone",
        default=None,
        help="the zone vnpy wrote datetimes in (default: vnpy's database.timezone)",
    )
    bars.set_defaults(handler=_import_bars)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `redfire` console script."""
    args = build_parser().parse_args(argv)
    handler = args.handler
    return int(handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
