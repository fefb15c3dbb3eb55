"""The ``Accept-*`` request headers' one grammar (RFC 9110 §12.4.2): comma-separated values, each with an optional
weight ``;q=`` from 0 to 1; ``Accept-Encoding`` (join/compression.py) and ``Accept-Language`` (join/i18n.py) read
them alike."""

from __future__ import annotations

import re

MOST_READ = 32  # values read of one header: a header of 10,000 of them costs no more than 32
_WEIGHT = re.compile(r"\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*", re.IGNORECASE)


def weighted(header: str | None) -> list[tuple[str, float]]:
    """``(value, weight)`` of each of the first :data:`MOST_READ` values, in the header's order, values stripped
    (as written; compare them lower-cased). A weight that is not a number from 0 to 1 counts as 0: refused,
    as is ``q=0``; another parameter is ignored."""
    values = []
    for part in (header or "").split(",")[:MOST_READ]:
        value, *parameters = part.split(";")
        weight = 1.0
        for parameter in parameters:
            if parameter.partition("=")[0].strip().lower() == "q":
                match = _WEIGHT.fullmatch(parameter)
                weight = float(match.group(1)) if match and float(match.group(1)) <= 1 else 0.0
        if value.strip():
            values.append((value.strip(), weight))
    return values
