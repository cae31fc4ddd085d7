"""`pgconsole doctor` covers every collector and check, naming the grant that enables each."""

from __future__ import annotations

import json
import uuid

from psycopg import sql

from pgconsole.checks import check_names
from pgconsole.monitor import COLLECTOR_NAMES
from tests.checks.helpers import run_cli


def _default_checks() -> list[str]:
    """Every check but those run only where configured (PgBouncer's, with pgbouncer_dsn)."""
    from pgconsole.checks.registry import get_check

    return [n for n in check_names() if not get_check(n).optional]


def test_doctor_names_the_grant_per_collector_and_check(db):
    role = f"pgc_doc_{uuid.uuid4().hex[:8]}"
    with db.admin() as a:
        a.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'Doc-pw-123'").format(sql.Identifier(role)))
    try:
        dsn = f"postgresql://{role}:Doc-pw-123@127.0.0.1:{db.cluster.info.port}/{db.name}"
        p = run_cli("doctor", "--dsn", dsn, "--format", "json")
        assert p.returncode == 1, p.stderr
        findings = {f["name"]: f for f in json.loads(p.stdout)["findings"]}
        assert {f"collector:{c}" for c in COLLECTOR_NAMES} <= set(findings)
        assert {f"check:{c}" for c in _default_checks()} <= set(findings)
        assert findings["collector:queue"]["status"] == "missing"
        assert findings["collector:queue"]["fix"] == f'GRANT pgconsole_readonly TO "{role}";'
        assert findings["check:idle_in_transaction"]["fix"] == f'GRANT pg_read_all_stats TO "{role}";'
        assert findings["check:cache_hit"]["status"] == "ok"
        assert "Doc-pw-123" not in p.stdout + p.stderr
        p = run_cli("doctor", "--dsn", db.dsn_as("pgconsole_readonly"), "--format", "json")
        findings = {f["name"]: f for f in json.loads(p.stdout)["findings"]}
        assert all(findings[f"check:{c}"]["status"] == "ok" for c in _default_checks()), findings
    finally:
        with db.admin() as a:
            a.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_doctor_judges_a_producer_or_worker_role_by_what_it_is_for(db):
    """The app and worker roles get no monitoring advice (pg_read_all_stats is pgconsole_readonly's)."""
    for role, needs in (
        ("pgconsole_app", {"enqueue", "insert", "read_own_jobs"}),
        ("pgconsole_worker", {"claim", "complete", "rescue"}),
    ):
        p = run_cli("doctor", "--dsn", db.dsn_as(role), "--format", "json")
        assert p.returncode == 0, p.stdout + p.stderr
        findings = {f["name"]: f for f in json.loads(p.stdout)["findings"]}
        assert needs <= set(findings) and all(findings[n]["status"] == "ok" for n in needs), findings
        assert "pg_read_all_stats" not in p.stdout, p.stdout
        assert not any(n.startswith(("collector:", "check:")) for n in findings)
