"""What a job type in a filter means, for the CLI, the console and the SQL filter functions alike:
a plain value is a prefix (``email`` matches ``email.send``), a value with ``*`` or ``?`` is a glob
anchored at both ends (``email.*``, ``*.send``, ``report.?``). ``pgconsole.job_type_pattern`` is the
same function in SQL."""

from __future__ import annotations

import re

from pgconsole.queue.models import InvalidInput

# A job type's characters (models.JOB_TYPE_RE) plus the glob's * and ?.
_PATTERN_RE = re.compile(r"^[A-Za-z0-9_.:*?-]{1,100}$")


def check_type_pattern(value: str, field: str = "job_type") -> str:
    if not isinstance(value, str) or not _PATTERN_RE.match(value):
        shown = value if isinstance(value, str) and len(value) <= 60 else f"{str(value)[:60]}..."
        raise InvalidInput(
            field,
            "must be a job type, a prefix of one or a glob (email.*, *.send): 1-100 "
            f"characters from A-Z a-z 0-9 _ . : - * ? (got {shown!r})",
        )
    return value


def type_pattern(value: str) -> str:
    """A type filter value as a LIKE pattern (backslash escapes, LIKE's default)."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if "*" in value or "?" in value:
        return escaped.replace("*", "%").replace("?", "_")
    return escaped + "%"
