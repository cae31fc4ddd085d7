"""`pgconsole jobs`, `pgconsole maintain`: bad input exits 1 with one line naming the field."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from pgconsole.cli import main


def _run(capsys: Any, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "extra, field",
    [
        (["jobs", "enqueue", "t", "--payload", '{"a": 1,,}'], "payload"),
        (["jobs", "enqueue", "has space"], "job_type"),
        (["jobs", "enqueue", "x" * 300], "job_type"),
        (["jobs", "enqueue", "t", "--priority", "-101"], "priority"),
        (["jobs", "enqueue", "t", "--payload", '{"a": "\\u0000"}'], "payload"),
        (["jobs", "enqueue", "t", "--payload", json.dumps({"a": "x" * (1024 * 1024 + 10)})], "payload"),
        (["jobs", "show", str(uuid.uuid4())], "id"),
        (["jobs", "show", "nope"], "id"),
        (["jobs", "retry", "--older-than", "soon"], "older_than"),
        (["jobs", "cancel", "--payload-contains", "{bad"], "payload_contains"),
    ],
)
def test_bad_input_exits_1_naming_the_field(db: Any, capsys: Any, extra: list[str], field: str) -> None:
    dsn = db.dsn_as("pgconsole_app" if extra[1] == "enqueue" else "pgconsole_operator")
    code, out, err = _run(capsys, "--dsn", dsn, *extra)
    assert code == 1
    assert err.startswith(f"pgconsole: {field}:"), err
    assert err.count("\n") == 1
    assert "pw-pgconsole" not in err + out
    with db.admin() as su:
        assert su.execute("SELECT count(*) FROM pgconsole.jobs").fetchone() == (0,)


def test_enqueue_list_show_retry_cleanup_roundtrip(db: Any, capsys: Any) -> None:
    app, op = db.dsn_as("pgconsole_app"), db.dsn_as("pgconsole_operator")
    code, out, _ = _run(
        capsys, "--dsn", app, "jobs", "enqueue", "mail", "--payload", '{"to": "x"}', "--format", "json"
    )
    assert code == 0
    jid = json.loads(out)["id"]
    with db.admin() as su:
        su.execute("UPDATE pgconsole.jobs SET status='failed', completed_at=now(), error_message='smtp down'")
    code, out, _ = _run(capsys, "--dsn", op, "jobs", "list", "--status", "failed", "--format", "json")
    assert code == 0 and [j["id"] for j in json.loads(out)] == [jid]
    code, out, _ = _run(capsys, "--dsn", op, "jobs", "retry", "--error-contains", "SMTP", "--dry-run")
    assert code == 0 and "would retry 1 job(s)" in out and "retry_jobs_matching" in out
    code, out, err = _run(capsys, "--dsn", op, "jobs", "retry", "--error-contains", "SMTP")
    assert code == 1 and "needs --yes" in err  # not a terminal: refused, nothing changed
    code, out, _ = _run(
        capsys,
        "--dsn",
        op,
        "jobs",
        "retry",
        "--error-contains",
        "SMTP",
        "--yes",
        "--reason",
        "fixed",
        "--format",
        "json",
    )
    assert code == 0 and json.loads(out)["changed"] == 1
    code, out, _ = _run(capsys, "--dsn", op, "jobs", "show", jid, "--format", "json")
    data = json.loads(out)
    assert data["job"]["status"] == "pending"
    assert [(e["level"], e["actor"], e["metadata"]["reason"]) for e in data["log"]] == [
        ("audit", "pgconsole_operator", "fixed")
    ]
    code, out, _ = _run(capsys, "--dsn", op, "jobs", "cancel", "--id", jid, "--yes")
    assert code == 0 and "pending -> cancelled" in out
    code, out, _ = _run(capsys, "--dsn", op, "jobs", "cleanup", "--status", "cancelled", "--yes")
    assert code == 0 and "1 job(s) changed" in out
    code, out, _ = _run(capsys, "--dsn", op, "maintain", "--format", "json")
    assert code == 0 and json.loads(out)["deleted"] == 0


def test_maintain_pass(db: Any, capsys: Any) -> None:
    with db.admin() as su:
        su.execute(
            "INSERT INTO pgconsole.jobs (job_type, status, completed_at) "
            "SELECT 'old', 'completed', now() - interval '30 days' FROM generate_series(1, 12)"
        )
        su.execute(
            "INSERT INTO pgconsole.jobs (job_type, expires_at) VALUES ('stale', now() - interval '1 s')"
        )
        su.execute(
            "INSERT INTO pgconsole.jobs (job_type, status, attempt, locked_by, started_at, heartbeat_at,"
            " lease_expires_at) VALUES ('stuck', 'processing', 1, 'ghost', now(), now(), now() - interval '1 s')"
        )
    code, out, _ = _run(capsys, "--dsn", db.dsn_as("pgconsole_operator"), "maintain", "--batch-size", "5")
    assert code == 0
    assert out.strip() == "rescued 1, auto-retried 0, expired 1, deleted 12"
    with db.admin() as su:
        assert su.execute("SELECT status FROM pgconsole.jobs WHERE job_type='stuck'").fetchone() == (
            "pending",
        )
        assert su.execute("SELECT count(*) FROM pgconsole.jobs WHERE job_type='old'").fetchone() == (0,)
