"""The Jobs filter line: ``status:failed type:email age:>1h error:"timed out" payload:{"a":1}``.

One line of tokens is quick to type over SSH and easy to drive from tmux; each token maps to one
field of :class:`~pgconsole.queue.browse.JobQuery` (the queue's one filter, plus the sort). Bad tokens raise :class:`FilterError` with a message for the screen.
"""

from __future__ import annotations

import json
import shlex
from datetime import timedelta
from typing import Any

from pgconsole.format import parse_duration as parse
from pgconsole.queue.browse import JobQuery
from pgconsole.queue.models import STATES, InvalidInput

HELP = (
    'status:failed,pending  type:email (prefix) | type:email.*  age:>1h | age:<10m  error:"text"  '
    'payload:{"key":"value"} | payload:key.sub=value  sort:created|oldest|updated|priority'
)

_SORTS = {
    "created": "created_desc",
    "newest": "created_desc",
    "oldest": "created_asc",
    "updated": "updated_desc",
    "priority": "priority_desc",
}


KEYS = ("status", "type", "age", "error", "payload", "sort")  # and the short forms s, t, a, e, p


class FilterError(ValueError):
    pass


def parse_duration(text: str, key: str = "age") -> timedelta:
    try:
        return parse(text, key)
    except ValueError as exc:
        raise FilterError(str(exc)) from None


def parse_filter(line: str) -> JobQuery:
    try:
        tokens = shlex.split(line)
    except ValueError as exc:
        raise FilterError(f"filter: {exc}") from None
    q: dict[str, Any] = {}
    words: list[str] = []
    for tok in tokens:
        key, sep, value = tok.partition(":")
        key = key.lower()
        if not sep:
            words.append(tok)
            continue
        if key in ("status", "s"):
            statuses = [s.strip().lower() for s in value.split(",") if s.strip()]
            bad = [s for s in statuses if s not in STATES]
            if bad:
                raise FilterError(f"unknown status {bad[0]!r}: one of {', '.join(STATES)}")
            q["statuses"] = statuses
        elif key in ("type", "t"):
            q["job_types"] = [t.strip() for t in value.split(",") if t.strip()]
        elif key in ("age", "a"):
            if value.startswith("<"):
                q["newer_than"] = parse_duration(value[1:])
            else:
                q["older_than"] = parse_duration(value.lstrip(">"))
        elif key in ("error", "e"):
            q["error_contains"] = value
        elif key in ("payload", "p"):
            _parse_payload(q, value)
        elif key == "sort":
            if value not in _SORTS:
                raise FilterError(f"unknown sort {value!r}: one of {', '.join(_SORTS)}")
            q["sort"] = _SORTS[value]
        else:
            # A typo (`typ:flaky`) used to become an error-text search that matched nothing, silently.
            raise FilterError(
                f"unknown filter key {key!r}: use {', '.join(KEYS)} "
                f'(for error text with a colon in it: error:"{tok}")'
            )
    if words:
        text = " ".join(words)
        q["error_contains"] = f"{q['error_contains']} {text}".strip() if q.get("error_contains") else text
    try:
        return JobQuery.build(**q)
    except InvalidInput as exc:
        raise FilterError(str(exc)) from None


def _parse_payload(q: dict[str, Any], value: str) -> None:
    if value.startswith(("{", "[")):
        try:
            q["payload_contains"] = json.loads(value)
        except json.JSONDecodeError as exc:
            raise FilterError(f"payload: not JSON ({exc.msg} at {exc.pos})") from None
        return
    path, eq, wanted = value.partition("=")
    if not eq or not path:
        raise FilterError('payload: use payload:{"key": "value"} or payload:key.sub=value')
    q["payload_path"] = path.split(".")
    q["payload_path_value"] = wanted


def to_line(q: JobQuery) -> str:
    """The filter line that parses back to ``q`` (shown in the input after a palette action)."""
    parts: list[str] = []
    if q.statuses:
        parts.append("status:" + ",".join(q.statuses))
    if q.job_types:
        parts.append("type:" + ",".join(q.job_types))
    if q.older_than is not None:
        parts.append(f"age:>{q.older_than.total_seconds():g}s")
    if q.newer_than is not None:
        parts.append(f"age:<{q.newer_than.total_seconds():g}s")
    if q.error_contains:
        parts.append(shlex.quote(f"error:{q.error_contains}"))
    if q.payload_contains is not None:
        parts.append(shlex.quote("payload:" + json.dumps(q.payload_contains, separators=(",", ":"))))
    if q.payload_path:
        parts.append(shlex.quote(f"payload:{'.'.join(q.payload_path)}={q.payload_path_value or ''}"))
    rev = {v: k for k, v in _SORTS.items() if k != "newest"}
    if q.sort != "created_desc":
        parts.append(f"sort:{rev[q.sort]}")
    return " ".join(parts)
