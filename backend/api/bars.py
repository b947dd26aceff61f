"""Market history: bars by symbol and interval, what is stored, and the admin import."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Annotated, Any, BinaryIO, cast

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import UploadFile

from backend.api.deps import ContainerDep, CurrentPrincipal
from backend.api.prefix import API_PREFIX
from backend.api.responses import error_responses
from backend.core.errors import PermissionDeniedError, RedFireError
from backend.models.enums import UserRole
from backend.schemas.bars import (
    BARS_LIMIT_DEFAULT,
    BARS_LIMIT_MAX,
    BarPageRead,
    BarSymbol,
    CoverageRead,
    ImportedRead,
)
from backend.services.market.csv_source import CsvSource
from backend.services.market.intervals import BarInterval
from backend.services.market.paging import BarRequest

router = APIRouter(prefix=f"{API_PREFIX}/market/bars", tags=["market"])

# Datetimes a bar may carry: beyond these a range means nothing (and date arithmetic ends).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
SPOOL_MEMORY = 1 << 20
CSV_TYPES = ("text/csv", "text/plain", "application/csv")


class UnsupportedMediaTypeError(RedFireError):
    """A body in a format the endpoint does not read."""

    status_code = 415
    code = "unsupported_media_type"


async def require_admin(principal: CurrentPrincipal) -> None:
    """Admins only (from the token, holding no database session through a long import)."""
    if principal.role is not UserRole.ADMIN:
        raise PermissionDeniedError("administrators only")


def only_query(*names: str) -> Callable[[Request], Any]:
    """A dependency refusing query parameters other than `names` (422, naming each one)."""
    allowed = frozenset(names)

    async def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise RequestValidationError(
                [{"type": "extra_forbidden", "loc": ("query", name), "msg": "unknown parameter"}
                 for name in unknown]
            )  # fmt: skip

    return check


def _moment(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not EARLIEST <= moment < LATEST:
        raise RequestValidationError(
            [{"type": "datetime_range", "loc": ("query", name),
              "msg": "must be from 1970-01-01 to before 2200-01-01"}]
        )  # fmt: skip
    return moment


def _range(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    low, high = _moment(start, "start"), _moment(end, "end")
    if low is not None and high is not None and low > high:
        raise RequestValidationError(
            [{"type": "range", "loc": ("query", "start"), "msg": "start must not be after end"}]
        )
    return low, high


SymbolQuery = Annotated[BarSymbol, Query(description="vt_symbol, e.g. rb2501.SHFE")]
StartQuery = Annotated[datetime | None, Query(description="ISO 8601; naive is UTC")]
EndQuery = Annotated[datetime | None, Query(description="exclusive; ISO 8601, naive is UTC")]


@router.get(
    "",
    response_model=BarPageRead,
    responses=error_responses(401, 422),
    dependencies=[Depends(only_query("symbol", "interval", "start", "end", "limit"))],
    summary="Bars of a symbol: 1m, 5m, 15m, 1h or 1d, oldest first, paged by next_start",
)
async def list_bars(
    _: CurrentPrincipal,
    container: ContainerDep,
    symbol: SymbolQuery,
    interval: BarInterval = BarInterval.MINUTE,
    start: StartQuery = None,
    end: EndQuery = None,
    limit: Annotated[int, Query(ge=1, le=BARS_LIMIT_MAX)] = BARS_LIMIT_DEFAULT,
) -> Response:
    """Bars starting in [start, end) (start rounded down to the interval; buckets in UTC).

    Without `start`: the `limit` intervals up to the newest bar before `end`.
    """
    low, high = _range(start, end)
    request = BarRequest(symbol, interval, low, high, limit)
    body = await container.history.pages.page_json(request)
    return Response(body, media_type="application/json")


@router.get(
    "/coverage",
    response_model=list[CoverageRead],
    responses=error_responses(401, 422),
    dependencies=[Depends(only_query("symbol", "interval", "start", "end", "max_gaps"))],
    summary="Per symbol: first and last stored bar, how many, and the gaps between",
)
async def bar_coverage(
    _: CurrentPrincipal,
    container: ContainerDep,
    symbol: Annotated[BarSymbol | None, Query(description="one symbol; default every one")] = None,
    interval: BarInterval = BarInterval.MINUTE,
    start: StartQuery = None,
    end: EndQuery = None,
    max_gaps: Annotated[int, Query(ge=0, le=1000)] = 100,
) -> Any:
    """Stored intervals only (1m, 1h, 1d); gaps oldest first, at most `max_gaps` per symbol."""
    if not interval.stored:
        raise RequestValidationError(
            [{"type": "enum", "loc": ("query", "interval"),
              "msg": "coverage is of a stored interval: 1m, 1h or 1d"}]
        )  # fmt: skip
    low, high = _range(start, end)
    return await container.history.coverage.coverage(
        interval, symbol=symbol, start=low, end=high, max_gaps=max_gaps
    )


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
    dependencies=[Depends(require_admin), Depends(only_query("symbol", "interval"))],
    openapi_extra=_IMPORT_BODY,
    summary="Import bars from CSV (admin): all or nothing, overlaps replaced",
)
async def import_bars(
    request: Request,
    container: ContainerDep,
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
    async with _csv_upload(request) as stream:

        def open_source() -> CsvSource:
            stream.seek(0)
            return CsvSource(cast(Any, stream), symbol=symbol, interval=interval)

        imported = await container.history.importer.run(open_source)
    if not imported:  # only a header and blank lines would not get here: the reader says so
        raise RequestValidationError([{"type": "empty", "loc": ("body",), "msg": "no bars"}])
    return imported[0]


class _csv_upload:  # noqa: N801  (an async context manager used like a function)
    """The request's CSV as a file: the multipart upload, or the raw body spooled to disk."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.file: IO[bytes] | None = None
        self.form: Any = None

    async def __aenter__(self) -> IO[bytes]:
        content_type = self.request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "multipart/form-data":
            self.form = await self.request.form(max_files=1, max_fields=10)
            upload = self.form.get("file")
            if not isinstance(upload, UploadFile):
                raise RequestValidationError(
                    [{"type": "missing", "loc": ("body", "file"), "msg": "a CSV file is required"}]
                )
            return cast(IO[bytes], upload.file)
        if content_type not in CSV_TYPES:
            raise UnsupportedMediaTypeError("send text/csv, or multipart/form-data with `file`")
        # Starlette's UploadFile writes in a thread once the spool has rolled over to disk.
        buffer = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115  (closed on exit)
        spool = UploadFile(cast(BinaryIO, buffer))
        self.file = cast(IO[bytes], spool.file)
        async for chunk in self.request.stream():
            await spool.write(chunk)
        return self.file

    async def __aexit__(self, *_: object) -> None:
        if self.form is not None:
            await self.form.close()
        if self.file is not None:
            await asyncio.to_thread(self.file.close)
