"""`pgconsole --check` as a process: exit codes, time bound, redaction, formats, no Textual."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from importlib import resources

import jsonschema
import pytest

from pgconsole.checks import check_names
from tests.checks.helpers import ROOT, run_cli
from tests.pgcluster import SUPERUSER_PASSWORD
from tests.proxy import silent_server

# Nagios plugin guidelines: 'label'=value[UOM];[warn];[crit];[min];[max]
PERF_ITEM = re.compile(
    r"^'(?P<label>[^'=]+)'=(?P<value>-?\d+(?:\.\d+)?)(?P<uom>s|%|B|c)?"
    r";(?P<warn>~?@?-?[\d.]*:?-?[\d.]*);(?P<crit>~?@?-?[\d.]*:?-?[\d.]*);(?P<min>-?[\d.]*);(?P<max>-?[\d.]*)$"
)
NAGIOS_LINE = re.compile(r"^PGCONSOLE (OK|WARNING|CRITICAL|UNKNOWN): [^|\n]+(?: \| (?P<perf>.+))?$")


def schema() -> dict:
    return json.loads((resources.files("pgconsole.checks") / "check-output.schema.json").read_text())


def test_unknown_check_name_is_a_usage_error():
    p = run_cli("--check", "--only", "connection,no_such_check", "--dsn", "host=127.0.0.1 port=1")
    assert p.returncode == 3
    assert p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "no_such_check" in lines[0]


def test_bad_threshold_is_a_usage_error():
    p = run_cli("--check", "--set", "idle_in_transaction.warn=5 parsecs", "--dsn", "host=127.0.0.1 port=1")
    assert p.returncode == 3
    assert len(p.stderr.strip().splitlines()) == 1 and "idle_in_transaction.warn" in p.stderr
    p = run_cli("--check", "--set", "nope.warn=1", "--dsn", "host=127.0.0.1 port=1")
    assert p.returncode == 3 and "nope" in p.stderr


def test_wrong_password_is_critical_and_redacted(pg18):
    bad = "Wr0ng-pa55word-zz"
    dsn = f"postgresql://postgres:{bad}@127.0.0.1:{pg18.info.port}/postgres"
    for fmt in ("text", "json", "nagios"):
        p = run_cli("--check", "--dsn", dsn, "--format", fmt, "--timeout", "10")
        assert p.returncode == 2, p.stdout + p.stderr
        both = p.stdout + p.stderr
        assert bad not in both and SUPERUSER_PASSWORD not in both
        assert "authentication failed" in both
    report = json.loads(run_cli("--check", "--dsn", dsn, "--format", "json").stdout)
    jsonschema.validate(report, schema())
    assert report["status"] == "CRITICAL" and report["checks"][0]["name"] == "connection"


def test_silent_server_answers_within_timeout_plus_one_second():
    with silent_server() as port:
        t0 = time.monotonic()
        p = run_cli(
            "--check",
            "--dsn",
            f"host=127.0.0.1 port={port} user=x password=Secr3t-xyz connect_timeout=30",
            "--timeout",
            "2",
            "--format",
            "nagios",
        )
        elapsed = time.monotonic() - t0
    assert p.returncode == 2, p.stdout + p.stderr
    assert elapsed < 3.0, f"--check took {elapsed:.2f}s with --timeout 2"
    assert p.stdout.startswith("PGCONSOLE CRITICAL: ") and "Secr3t-xyz" not in p.stdout + p.stderr


def _default_checks() -> list[str]:
    from pgconsole.checks.registry import get_check

    return [n for n in check_names() if not get_check(n).optional]


def test_json_validates_and_nagios_parses(db):
    dsn = db.dsn_as("pgconsole_readonly")
    p = run_cli("--check", "--dsn", dsn, "--format", "json")
    report = json.loads(p.stdout)
    jsonschema.validate(report, schema())
    # every check, but those that run only where configured (PgBouncer's: pgbouncer_dsn)
    assert {c["name"] for c in report["checks"]} == set(_default_checks())
    assert p.returncode == report["exit_code"]

    p = run_cli("--check", "--dsn", dsn, "--format", "nagios")
    lines = p.stdout.splitlines()
    assert len(lines) == 1
    m = NAGIOS_LINE.match(lines[0])
    assert m, lines[0]
    items = m["perf"].split(" ")
    parsed = [PERF_ITEM.match(i) for i in items]
    assert all(parsed), [i for i, x in zip(items, parsed, strict=True) if not x]
    labels = {x["label"] for x in parsed if x}
    assert {"connections_used", "cache_hit", "wraparound"} <= labels
    assert len(labels) == len(items)  # labels are unique
    cache = next(x for x in parsed if x and x["label"] == "cache_hit")
    assert cache["warn"] == "95:" and cache["crit"] == "90:"  # low is bad: Nagios range syntax

    p = run_cli("--check", "--dsn", dsn, "--format", "text")
    out = p.stdout.strip().splitlines()
    assert out[-1].startswith("PGCONSOLE ") and len(out) == len(_default_checks()) + 1
    order = ["CRITICAL", "WARNING", "UNKNOWN", "OK"]
    ranks = [order.index(line.split()[0]) for line in out[:-1]]
    assert ranks == sorted(ranks)  # worst first


def test_check_does_not_import_textual(db):
    code = (
        "import sys\n"
        "from pgconsole.cli import main\n"
        f"rc = main(['--check', '--dsn', {db.dsn_as('pgconsole_readonly')!r}, '--format', 'json'])\n"
        "assert 'textual' not in sys.modules, 'textual imported'\n"
        "assert 'plotext' not in sys.modules, 'plotext imported'\n"
        "print('RC', rc)\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(ROOT),
        env={
            "PGCONSOLE_CONFIG": str(ROOT / "tests" / "checks" / "empty-config.toml"),
            "PATH": "/usr/bin:/bin",
        },
    )
    assert p.returncode == 0, p.stderr
    assert "RC " in p.stdout


def test_monitor_and_checks_packages_do_not_import_textual():
    code = (
        "import sys, pgconsole.monitor, pgconsole.checks, pgconsole.commands.check, pgconsole.schema.doctor\n"
        "from pgconsole.checks import check_names; check_names()\n"
        "assert 'textual' not in sys.modules"
    )
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=str(ROOT)
    )
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize(
    "value,kind,expected",
    [
        ("30s", "duration", 30.0),
        ("5min", "duration", 300.0),
        ("1h", "duration", 3600.0),
        ("90", "duration", 90.0),
        ("90%", "percent", 90.0),
        ("90", "percent", 90.0),
        ("110%", "percent", 110.0),
        ("1GB", "bytes", 1024**3),
        ("512MB", "bytes", 512 * 1024**2),
        ("3", "count", 3.0),
    ],
)
def test_threshold_parsing(value, kind, expected):
    from pgconsole.checks.thresholds import Kind, parse_value

    assert parse_value(value, Kind(kind)) == expected


@pytest.mark.parametrize(
    "value,kind",
    [
        ("5 parsecs", "duration"),
        ("90%%", "percent"),
        ("-1", "count"),
        ("1.5x", "bytes"),
        ("ten", "count"),
        ("5%", "duration"),
    ],
)
def test_threshold_parsing_rejects(value, kind):
    from pgconsole.checks.thresholds import Kind, ThresholdError, parse_value

    with pytest.raises(ThresholdError):
        parse_value(value, Kind(kind))


def test_config_file_thresholds_and_set_precedence(tmp_path):
    from pgconsole.checks import resolve_thresholds

    t = resolve_thresholds(
        {"queue_latency": {"warn": "2min", "crit": 600}},
        {"queue_latency": {"crit": "1h"}, "failure_rate": {"min_jobs": "1"}},
    )
    assert t["queue_latency"].warn == 120 and t["queue_latency"].crit == 3600
    assert t["failure_rate"].params["min_jobs"] == 1
    assert t["cache_hit"].warn == 95 and t["cache_hit"].crit == 90


def test_overall_status_ranks_unknown_above_ok_only():
    from pgconsole.checks import CheckResult, Status, overall_status

    def r(s):
        return CheckResult(name="x", status=s, message="")

    assert overall_status([r(Status.OK), r(Status.UNKNOWN)]) is Status.UNKNOWN
    assert overall_status([r(Status.UNKNOWN), r(Status.WARNING)]) is Status.WARNING
    assert overall_status([r(Status.CRITICAL), r(Status.UNKNOWN)]) is Status.CRITICAL
    assert overall_status([r(Status.OK)]) is Status.OK
