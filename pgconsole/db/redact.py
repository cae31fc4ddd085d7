"""Password redaction for every string that leaves the process (errors, logs, screens).

psycopg echoes the whole URI in some parse errors (reliability.md I4), so every exception text
goes through :func:`redact` before it is printed, logged or drawn.
"""

from __future__ import annotations

import re

MASK = "***"

# postgresql://user:secret@host  ->  postgresql://user:***@host
_URI_USERINFO = re.compile(r"(?P<scheme>postgres(?:ql)?://)(?P<user>[^:@/\s]*):(?P<pw>[^@\s]*)@", re.I)
# password=secret / password = 'sec ret' / PGPASSWORD=secret. An unquoted libpq value runs to the
# next whitespace, so mask all of it (a ';' or ',' is part of the password). URI query strings
# (?password=...&) are left to _QUERY_PASSWORD, which stops at '&'.
_KV_PASSWORD = re.compile(
    r"(?<![?&])(?P<key>\b(?:password|pgpassword|passwd|pass)\s*=\s*)"
    r"(?P<val>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|(?:[^\s\\]|\\.)+)",
    re.I,
)
# ?password=secret&... inside a URI query string
_QUERY_PASSWORD = re.compile(r"(?P<key>[?&]password=)(?P<val>[^&\s]*)", re.I)


def redact(text: object, secrets: tuple[str, ...] = ()) -> str:
    """Return ``text`` with every password it may contain replaced by ``***``.

    ``secrets`` are extra literal values (for example the password of the DSN in use) that are
    masked wherever they appear, which also catches echoes in unexpected formats.
    """
    out = str(text)
    out = _URI_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", out)
    out = _QUERY_PASSWORD.sub(lambda m: f"{m['key']}{MASK}", out)
    out = _KV_PASSWORD.sub(lambda m: f"{m['key']}{MASK}", out)
    for secret in secrets:
        if secret and len(secret) >= 3:
            out = out.replace(secret, MASK)
    return out


def password_of(dsn: str) -> str | None:
    """The password a DSN carries, if any, so it can be masked literally as well."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        value = conninfo_to_dict(dsn).get("password")
    except Exception:
        m = _URI_USERINFO.search(dsn)
        return m["pw"] if m else None
    return str(value) if value else None
