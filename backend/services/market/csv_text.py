"""A CSV file's text in blocks of whole lines, read from a binary stream a MiB at a time.

The reader (csv_bars.py) checks a block's lines together; a line is never split between two
blocks, and a file is never read whole into memory: a line longer than MAX_LINE_BYTES is
refused instead of held.
"""

from __future__ import annotations

from codecs import BOM_UTF8
from collections.abc import Iterator
from typing import BinaryIO

BLOCK_BYTES = 1 << 20
MAX_LINE_BYTES = 1 << 20


class NotUtf8Error(ValueError):
    """A block that does not decode; `line` is the line it fails in."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class LineTooLongError(ValueError):
    """A line longer than `limit` bytes (MAX_LINE_BYTES); `line` is its number."""

    def __init__(self, line: int, limit: int) -> None:
        super().__init__(line)
        self.line = line
        self.limit = limit


def text_blocks(stream: BinaryIO) -> Iterator[str]:
    """The stream as text, in blocks of whole lines (the last perhaps without its newline),
    a UTF-8 byte order mark dropped. Newlines never split a UTF-8 character, so each block
    decodes alone; one that does not names the line."""
    rest = b""
    line = 0  # newlines in the blocks before
    first = True
    while True:
        data = stream.read(BLOCK_BYTES)
        ended = not data
        data = rest + data if rest else data
        if first:
            if not ended and len(data) < len(BOM_UTF8):
                rest = data  # too short to tell a byte order mark
                continue
            if data.startswith(BOM_UTF8):
                data = data[len(BOM_UTF8) :]
            first = False
        if ended:
            block, rest = data, b""
        else:
            cut = data.rfind(b"\n") + 1
            block, rest = data[:cut], data[cut:]
            if len(rest) > MAX_LINE_BYTES:
                raise LineTooLongError(line + block.count(b"\n") + 1, MAX_LINE_BYTES)
        if block:
            try:
                text = block.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise NotUtf8Error(line + block.count(b"\n", 0, exc.start) + 1) from None
            yield text
            line += text.count("\n")
        if ended:
            return
