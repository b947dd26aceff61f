"""The admin import of bars from CSV."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError

from backend.api.api_route import ApiRoute
from backend.api.bar_queries import SymbolQuery
from backend.api.base_path import API_PREFIX
from backend.api.csv_upload import csv_upload
from backend.api.deps.platform import BarImporterDep
from backend.api.deps.principal import require_admin_principal
from backend.api.responses import error_responses
from backend.schemas.bars import ImportedRead
from backend.services.market.csv_source import CsvSource
from backend.services.market.intervals import BarInterval

router = APIRouter(prefix=f"{API_PREFIX}/market/bars", tags=["market"], route_class=ApiRoute)

_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string", "description": "CSV with a header"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


@router.post(
    "/import",
    response_model=ImportedRead,
    responses=error_responses(400, 401, 403, 413, 415, 422),
    dependencies=[Depends(require_admin_principal)],
    openapi_extra=_IMPORT_BODY,
    summary="Import bars from CSV (admin): all or nothing, overlaps replaced",
)
async def import_bars(
    request: Request,
    importer: BarImporterDep,
    symbol: SymbolQuery,
    interval: Annotated[BarInterval, Query(description="1m, 1h or 1d")] = BarInterval.MINUTE,
) -> Any:
    """A CSV body (`text/csv`) or upload (`multipart/form-data`, field `file`), streamed to a
    temporary file and parsed off the event loop; up to MARKET__IMPORT_MAX_BYTES. 422 names
    the bad lines, and nothing is stored."""
    if not interval.stored:
        raise RequestValidationError(
            [{"type": "enum", "loc": ("query", "interval"),
              "msg": "bars are imported at 1m, 1h or 1d"}]
        )  # fmt: skip
    async with csv_upload(request) as stream:

        def open_source() -> CsvSource:
            stream.seek(0)
            return CsvSource(cast(Any, stream), symbol=symbol, interval=interval)

        imported = await importer.run(open_source)
    if not imported:  # only a header and blank lines would not get here: the reader says so
        raise RequestValidationError([{"type": "empty", "loc": ("body",), "msg": "no bars"}])
    return imported[0]
