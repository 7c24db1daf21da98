"""Text files read whole, and never more than :data:`MAX_BYTES` of them.

Whatever is named (a file, a pipe, a device that never ends), at most
:data:`MAX_BYTES` + 1 bytes are read; more is refused, as is text that is not
UTF-8 (by its line number).  Messages name the file, never its content.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from optimizer.errors import Described, FieldError, at
from optimizer.numbers import ErrorFactory

__all__ = ["MAX_BYTES", "read_file", "read_stream", "stamp"]

#: The largest file read whole (inventories, code sets, payer profiles, orders):
#: about 200,000 lots.
MAX_BYTES = 16 * 2**20


def read_file(
    path: Path,
    *,
    field: str,
    what: str,
    error: ErrorFactory = FieldError,
    windows_1252: bool = False,
) -> str:
    """The UTF-8 text of ``path``, of at most :data:`MAX_BYTES`; with
    ``windows_1252``, text that is not UTF-8 is read as Windows-1252 (files
    published by CMS, whose drug names may carry a ® in that encoding)."""
    try:
        with path.open("rb") as handle:
            return read_stream(
                handle, at(path), field=field, what=what, error=error, windows_1252=windows_1252
            )
    except OSError as exc:
        raise error(field, f"a readable {what}", at(path, f": {exc.strerror}")) from None


def read_stream(
    handle: BinaryIO,
    shown: Described,
    *,
    field: str,
    what: str,
    error: ErrorFactory = FieldError,
    windows_1252: bool = False,
) -> str:
    """UTF-8 text of at most :data:`MAX_BYTES` from ``handle``, ``shown`` naming
    it in messages (see :func:`read_file` for ``windows_1252``)."""
    data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise error(field, f"{what} of at most {MAX_BYTES // 2**20} MiB", shown)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if windows_1252:
            try:
                return data.decode("cp1252")
            except UnicodeDecodeError:
                pass
        line = data[: exc.start].count(b"\n") + 1
        raise error(
            field, f"{what} in UTF-8", Described(f"{shown.words}: line {line} is not UTF-8")
        ) from None


def stamp(
    path: Path, *, field: str, what: str, error: ErrorFactory = FieldError
) -> tuple[str, int, int]:
    """``path`` resolved, with its modification time and size: a cache key that
    changes when the file is rewritten."""
    resolved = path.resolve()
    try:
        stat = resolved.stat()
    except OSError:
        raise error(field, f"the path of {what}", at(path, " (no such file)")) from None
    return str(resolved), stat.st_mtime_ns, stat.st_size
