"""Creating and closing vnpy's MainEngine without its side effects on RedFire's process."""

from __future__ import annotations

import logging
import os

import structlog
from vnpy.event import Event
from vnpy.trader.engine import LogEngine, MainEngine
from vnpy.trader.event import EVENT_LOG
from vnpy.trader.object import LogData

from backend.services.vnpy.event_engine import RedFireEventEngine

logger = structlog.get_logger(__name__)
vnpy_logger = structlog.get_logger("backend.services.vnpy.vnpy")


def create_main_engine(timer_interval: int) -> MainEngine:
    """A MainEngine on a RedFireEventEngine, with the working directory left where it was.

    MainEngine() starts the event engine, then chdir()s into vnpy's TRADER_DIR; and its
    LogEngine prints to stdout and a file through loguru. Here vnpy's log events go to
    `logging` (logger `backend.services.vnpy.vnpy`) instead.
    """
    event_engine = RedFireEventEngine(timer_interval)
    cwd = os.getcwd()
    try:
        main_engine = MainEngine(event_engine)
    except BaseException:
        event_engine.stop()
        raise
    finally:
        os.chdir(cwd)  # RedFire's relative paths (SQLite file, config) stay valid
    log_engine = main_engine.engines.get("log")
    if isinstance(log_engine, LogEngine):
        log_engine.active = False
    event_engine.register(EVENT_LOG, _forward_log)
    return main_engine


def close_main_engine(main_engine: MainEngine) -> None:
    """MainEngine.close(), then make sure the event threads and every gateway did stop."""
    try:
        main_engine.close()  # stops the event engine first, then engines, then gateways
    except Exception:
        logger.exception("vnpy_main_engine_close_failed")
        main_engine.event_engine.stop()
        for gateway in main_engine.gateways.values():
            try:
                gateway.close()
            except Exception:
                logger.exception("gateway_close_failed", gateway=gateway.gateway_name)


def _forward_log(event: Event) -> None:
    log: LogData = event.data
    level = log.level if isinstance(log.level, int) else logging.INFO
    vnpy_logger.log(level, "vnpy_log", gateway=log.gateway_name, message=log.msg)
