"""National Drug Codes on claims (docs/billing.md section 6).

A claim carries the 11-digit 5-4-2 form.  Labels print 10-digit forms with
hyphens, 4-4-2, 5-3-2 or 5-4-1, which become 11 digits by a leading zero on
the short segment.  An unhyphenated 11-digit code is taken as it is; an
unhyphenated 10-digit code is refused, since which segment to pad cannot be
told from the digits.
"""

from __future__ import annotations

import functools
import re

from dosing.errors import InputError
from optimizer.errors import Described

__all__ = ["normalize_ndc"]

_HYPHENATED = re.compile(r"^(\d{4,5})-(\d{3,4})-(\d{1,2})$")
_PADDED_WIDTHS = (5, 4, 2)


@functools.lru_cache(maxsize=4096)
def normalize_ndc(text: str, *, field: str = "ndc") -> str:
    """The 11-digit 5-4-2 form of ``text`` (e.g. ``1234-5678-90`` -> ``01234567890``).

    >>> normalize_ndc("12345-678-90")
    '12345067890'
    """
    value = text.strip() if isinstance(text, str) else text
    if isinstance(value, str):
        if re.fullmatch(r"\d{11}", value):
            return value
        match = _HYPHENATED.match(value)
        if match:
            segments = match.groups()
            widths = tuple(len(s) for s in segments)
            if widths in ((4, 4, 2), (5, 3, 2), (5, 4, 1), (5, 4, 2)):
                return "".join(s.zfill(w) for s, w in zip(segments, _PADDED_WIDTHS, strict=True))
    # the value is not repeated: it may come from a file (docs/design.md)
    raise InputError(
        field,
        "an NDC as 4-4-2, 5-3-2 or 5-4-1 with hyphens, or 11 digits",
        Described("a code in none of these forms"),
    )
