"""Property tests for the password redactor: whatever the password, it never survives."""

from __future__ import annotations

import string
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from pgconsole.db.connect import describe_error
from pgconsole.db.redact import password_of, redact

PASSWORDS = st.text(
    alphabet=string.ascii_letters + string.digits + string.punctuation + " é€", min_size=1, max_size=30
)


def libpq_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@settings(max_examples=300, deadline=None)
@given(PASSWORDS)
def test_uri_password_is_masked(pw: str) -> None:
    uri = f"postgresql://bob:{quote(pw, safe='')}@db1:5432/app"
    assert redact(uri) == "postgresql://bob:***@db1:5432/app"
    assert password_of(uri) == pw
    assert (
        redact(f'invalid URI: "{uri}" (no port)')
        == 'invalid URI: "postgresql://bob:***@db1:5432/app" (no port)'
    )


@settings(max_examples=300, deadline=None)
@given(PASSWORDS)
def test_conninfo_password_is_masked(pw: str) -> None:
    dsn = f"host=db1 password={libpq_quote(pw)} user=bob"
    assert redact(dsn) == "host=db1 password=*** user=bob"
    assert password_of(dsn) == pw


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + "-_.!~*", min_size=3, max_size=30))
def test_describe_error_masks_the_dsn_password_anywhere(drawn: str) -> None:
    # A prefix the message's own words and the mask never contain: a drawn "***" or "two" alone
    # would be "in the message" whatever the redactor did (the test failed by chance before).
    pw = "Zq9" + drawn
    dsn = f"postgresql://bob:{pw}@db1/app"
    message = describe_error(ValueError(f"weird echo {pw}\n\tin two lines"), dsn)
    assert pw not in message and "\n" not in message


UNQUOTED = st.text(
    alphabet=string.ascii_letters
    + string.digits
    + string.punctuation.replace("'", "").replace('"', "").replace("\\", ""),
    min_size=1,
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(UNQUOTED)
def test_unquoted_conninfo_password_is_masked_whole(pw: str) -> None:
    # Found by this test: `password=se;cret` used to leave ";cret" behind.
    dsn = f"host=db1 password={pw} user=bob"
    assert redact(dsn) == "host=db1 password=*** user=bob"
    assert redact(f"PGPASSWORD={pw}") == "PGPASSWORD=***"


def test_query_string_password_keeps_the_other_parameters() -> None:
    assert (
        redact("postgresql://h/d?user=u&password=s3cr;et&sslmode=require")
        == "postgresql://h/d?user=u&password=***&sslmode=require"
    )
