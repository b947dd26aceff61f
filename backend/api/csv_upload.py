"""A request's CSV body as a file: a multipart upload, or the raw body spooled to disk."""

from __future__ import annotations

import asyncio
import tempfile
from typing import IO, Any, BinaryIO, cast

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import UploadFile

from backend.core.errors import RedFireError

SPOOL_MEMORY = 1 << 20
CSV_TYPES = ("text/csv", "text/plain", "application/csv")


class UnsupportedMediaTypeError(RedFireError):
    """A body in a format the endpoint does not read."""

    status_code = 415
    code = "unsupported_media_type"


class csv_upload:  # noqa: N801  (an async context manager used like a function)
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
