"""Optimisations: the service that reads them and the submission that stores and queues them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.requests import HTTPConnection

from backend.api.deps.connection import container_of
from backend.services.research.service import OptimizationService
from backend.services.research.submission import OptimizationSubmission


def _optimization_service(connection: HTTPConnection) -> OptimizationService:
    container = container_of(connection)
    config = container.config
    return OptimizationService(
        registry=container.strategies.registry,
        contracts=container.trading.market.get_contract,
        replica=config.replica_id,
        max_combinations=config.research.max_combinations,
        max_genetic_space=config.research.max_genetic_space,
        max_queued_per_user=config.research.max_queued_per_user,
        paper_commission_rate=config.vnpy.paper_commission_rate,
    )


async def get_optimization_service(connection: HTTPConnection) -> OptimizationService:
    """Checked against the strategy registry and the listed contracts; rows carry this replica."""
    return _optimization_service(connection)


async def get_optimization_submission(connection: HTTPConnection) -> OptimizationSubmission:
    """Stores an optimisation and queues it: on this replica's runner, or procrastinate's queue."""
    container = container_of(connection)
    return OptimizationSubmission(
        _optimization_service(connection),
        reader=container.history.reader,
        queue=container.research_queue,
        max_bars=container.config.backtest.max_bars,
    )


OptimizationServiceDep = Annotated[OptimizationService, Depends(get_optimization_service)]
OptimizationSubmissionDep = Annotated[OptimizationSubmission, Depends(get_optimization_submission)]
