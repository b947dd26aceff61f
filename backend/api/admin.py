"""Administration: risk limits and the kill switch."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from backend.api.api_route import ApiRoute
from backend.api.base_path import API_PREFIX
from backend.api.deps.connection import SessionDep, UnitOfWorkDep
from backend.api.deps.identity import AdminUser
from backend.api.deps.services import RiskSettingsDep
from backend.api.responses import error_responses
from backend.schemas.admin import HaltRequest, RiskLimitsRead, RiskLimitsUpdate

router = APIRouter(prefix=f"{API_PREFIX}/admin", tags=["admin"], route_class=ApiRoute)
ADMIN_ERRORS = error_responses(401, 403)
ADMIN_BODY_ERRORS = error_responses(400, 401, 403, 422)


@router.get("/risk", response_model=RiskLimitsRead, responses=ADMIN_ERRORS)
async def get_risk(_: AdminUser, session: SessionDep, risk: RiskSettingsDep) -> Any:
    """The pre-trade limits and whether trading is halted, as committed."""
    return (await risk.load(session)).to_json()


@router.put("/risk", response_model=RiskLimitsRead, responses=ADMIN_BODY_ERRORS)
async def put_risk(
    update: RiskLimitsUpdate, _: AdminUser, work: UnitOfWorkDep, risk: RiskSettingsDep
) -> Any:
    """Change limits; every replica applies them to its next order."""
    values = update.model_dump(exclude_none=True)
    return (await risk.update(work, **values)).to_json()


@router.post("/halt", response_model=RiskLimitsRead, responses=ADMIN_BODY_ERRORS)
async def halt(
    _: AdminUser, work: UnitOfWorkDep, risk: RiskSettingsDep, request: HaltRequest | None = None
) -> Any:
    """Kill switch: every new order is rejected `trading_halted` until resumed."""
    reason = request.reason if request is not None else None
    return (await risk.update(work, trading_halted=True, halted_reason=reason)).to_json()


@router.post("/resume", response_model=RiskLimitsRead, responses=ADMIN_ERRORS)
async def resume(_: AdminUser, work: UnitOfWorkDep, risk: RiskSettingsDep) -> Any:
    """Lift the kill switch."""
    return (await risk.update(work, trading_halted=False, halted_reason=None)).to_json()
