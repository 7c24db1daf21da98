"""Files named in data: read only where the caller allowed, size-capped, never quoted.

An order, a supply request or a claims file may name other files (an
``inventory_file``, a code set or payer profile given as a path).  Data must
never make the program read a file its user did not mean, so:

* a path in data is read only when the caller gives a base directory (the
  CLI gives the folder of the file that names it, or the current folder for
  standard input); without one, only inline data and shipped names work;
* the path is resolved (links followed) and must stay inside that directory;
* files are read up to :data:`optimizer.textfile.MAX_BYTES`;
* messages name the file, and the line or column at fault, never its content.

A :class:`pathlib.Path` passed by a Python caller, or named on the command
line, is the caller's own choice and is read wherever it is (size-capped all
the same).
"""

from __future__ import annotations

from pathlib import Path

from dosing.errors import InputError
from optimizer import textfile
from optimizer.errors import at

__all__ = ["checked", "locate", "named", "read_text"]


def locate(name: object, *, base_dir: Path | None, field: str, what: str, otherwise: str) -> Path:
    """The file that ``name`` (a path from data) means, inside ``base_dir``.
    ``otherwise`` says what the field takes when no base directory is given."""
    if not isinstance(name, str) or not name.strip() or "\x00" in name:
        raise InputError(field, f"the path of {what}", name)
    if base_dir is None:
        raise InputError(
            field,
            f"{otherwise} (a path is read only from the folder of the file that names "
            "it; in Python, pass base_dir)",
            name,
        )
    base = Path(base_dir).resolve()
    path = (base / name.strip()).resolve()
    if not path.is_relative_to(base):
        raise InputError(field, f"a path inside {base} (the folder of the file naming it)", name)
    return checked(path, field=field, what=what, shown=name)


def named(
    name: str | Path, *, base_dir: Path | None, field: str, what: str, shipped: tuple[str, ...]
) -> Path:
    """The file a table is read from: a :class:`~pathlib.Path` the caller chose,
    wherever it is, or a path given as text (from data) inside ``base_dir``; the
    table's ``shipped`` names are what it takes otherwise."""
    choices = ", ".join(shipped)
    if isinstance(name, Path):
        return checked(name, field=field, what=f"{what} (or one of {choices})")
    return locate(name, base_dir=base_dir, field=field, what=what, otherwise=f"one of {choices}")


def checked(path: Path, *, field: str, what: str, shown: object = None) -> Path:
    """``path`` if it is a readable regular file no larger than
    :data:`optimizer.textfile.MAX_BYTES`."""
    name = path if shown is None else shown
    if "\x00" in str(path):  # the operating system cannot name it
        raise InputError(field, f"the path of {what}", at(name))
    if path.is_dir():
        raise InputError(field, f"the path of {what}, not a folder", at(name))
    try:
        size = path.stat().st_size
    except OSError:
        raise InputError(field, f"the path of {what}", at(name, " (no such file)")) from None
    if not path.is_file():
        raise InputError(field, f"the path of {what} (a regular file)", at(name))
    if size > textfile.MAX_BYTES:
        limit = textfile.MAX_BYTES // 2**20
        raise InputError(field, f"{what} of at most {limit} MiB", f"{size:,} bytes")
    return path


def read_text(path: Path, *, field: str, what: str) -> str:
    """A regular UTF-8 text file, bounded in size, its content never quoted."""
    checked(path, field=field, what=what)
    return textfile.read_file(path, field=field, what=what, error=InputError)
