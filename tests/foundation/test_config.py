"""Configuration: CLI > PGCONSOLE_* env > TOML file (profiles) > defaults; one line naming the key
on a bad value; DSN resolution --dsn > $PGCONSOLE_DSN > config file > $DATABASE_URL > libpq
defaults, with service files and .pgpass really working through connect() (docs/configuration.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgconsole.cli import build_parser, settings_from_args
from pgconsole.commands.common import dsn_of
from pgconsole.config import ConfigError, Settings, load_settings
from pgconsole.db import Purpose, connect
from pgconsole.db.connect import ConnectError
from tests.foundation.helpers import MIGRATOR, SetUpDB, run_main
from tests.pgcluster import role_password

_ENV = (
    "PGCONSOLE_DSN",
    "PGCONSOLE_REFRESH",
    "PGCONSOLE_READ_ONLY",
    "PGCONSOLE_CONFIG",
    "PGCONSOLE_PROFILE",
    "PGCONSOLE_CONNECT_TIMEOUT",
    "DATABASE_URL",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGPASSFILE",
    "PGPASSWORD",
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGCONNECT_TIMEOUT",
    "PGCONSOLE_THRESHOLDS",
    "PGCONSOLE_TIMEOUT",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    # No user config: point the default location at an empty directory.
    monkeypatch.setattr(
        "pgconsole.config.default_config_path", lambda: tmp_path / "no-such-dir" / "config.toml"
    )


def settings(argv: list[str]) -> Settings:
    return settings_from_args(build_parser().parse_args(argv))  # type: ignore[no-any-return]


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_precedence_cli_over_env_over_file_over_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings([]).refresh == 2.0  # default
    cfg = write(tmp_path / "c.toml", "refresh = 5\nread_only = true\n")
    assert settings(["--config", cfg]).refresh == 5
    monkeypatch.setenv("PGCONSOLE_REFRESH", "4")
    assert settings(["--config", cfg]).refresh == 4
    assert settings(["--config", cfg, "--refresh", "3"]).refresh == 3
    assert settings(["--config", cfg]).read_only is True  # untouched keys still come from the file
    monkeypatch.setenv("PGCONSOLE_CONFIG", cfg)  # the file may also be named by the environment
    assert settings([]).read_only is True


def test_profiles_override_top_level_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(
        tmp_path / "c.toml",
        """
dsn = "host=staging dbname=app"
refresh = 5
[thresholds.cache_hit]
warn = "95%"
crit = "90%"
[profiles.prod]
dsn = "service=prod"
read_only = true
[profiles.prod.thresholds.cache_hit]
crit = "80%"
""",
    )
    base = settings(["--config", cfg])
    assert (base.dsn, base.read_only, base.profile) == ("host=staging dbname=app", False, None)
    prod = settings(["--config", cfg, "--profile", "prod"])
    assert (prod.dsn, prod.read_only, prod.refresh, prod.profile) == ("service=prod", True, 5, "prod")
    assert prod.thresholds["cache_hit"] == {"crit": "80%"}
    monkeypatch.setenv("PGCONSOLE_PROFILE", "prod")
    assert settings(["--config", cfg]).read_only is True


@pytest.mark.parametrize(
    ("text", "argv", "expected"),
    [
        ('refresh = "fast"\n', [], "config: refresh: Input should be a valid number"),
        ("refrsh = 2\n", [], "config: refrsh: Extra inputs are not permitted"),
        ("refresh = 0\n", [], "config: refresh: Input should be greater than 0.1"),
        ('[profiles.prod]\nread_only = "maybe"\n', ["--profile", "prod"], "config: read_only: "),
        ("refresh = \n", [], "invalid TOML"),
        ("[profiles.prod]\n", ["--profile", "dev"], "profile 'dev' not found (profiles: prod)"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(
    tmp_path: Path, text: str, argv: list[str], expected: str
) -> None:
    cfg = write(tmp_path / "c.toml", text)
    with pytest.raises(ConfigError) as info:
        settings(["--config", cfg, *argv])
    message = str(info.value)
    assert expected in message and "\n" not in message
    if "Input" in expected or "Extra" in expected:
        assert f"(config file {cfg})" in message
    r = run_main("--config", cfg, *argv, "migrate", "--status")
    assert r.returncode == 1 and r.stderr.splitlines() == [f"pgconsole: {message}"]


def test_bad_env_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGCONSOLE_REFRESH", "fast")
    with pytest.raises(ConfigError, match=r"^config: refresh: .* \(from \$PGCONSOLE_REFRESH\)$"):
        settings([])


def test_env_names_are_case_insensitive_and_tables_are_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write(
        tmp_path / "c.toml",
        '[thresholds.cache_hit]\nwarn = "95%"\ncrit = "90%"\n[thresholds.connections_used]\nwarn = "80%"\n',
    )
    monkeypatch.setenv("pgconsole_timeout", "7")
    monkeypatch.setenv("PGCONSOLE_THRESHOLDS", '{"cache_hit": {"crit": "85%"}}')
    s = settings(["--config", cfg])
    assert s.timeout == 7
    # the environment's table merges into the file's, key by key: the file's other values stay
    assert s.thresholds == {"cache_hit": {"warn": "95%", "crit": "85%"}, "connections_used": {"warn": "80%"}}
    monkeypatch.setenv("PGCONSOLE_THRESHOLDS", "{cache_hit")
    with pytest.raises(
        ConfigError, match=r"^config: thresholds: not valid JSON: .* \(from \$PGCONSOLE_THRESHOLDS\)$"
    ):
        settings([])


def test_check_parses_without_the_subcommands_and_means_the_same() -> None:
    from pgconsole.cli import _check_only

    argv = ["--check", "--dsn", "host=x", "--only", "cache_hit", "--timeout", "3", "--format", "json"]
    assert _check_only(argv) and not _check_only(["--check", "migrate"]) and not _check_only(["migrate"])
    fast, full = build_parser(subcommands=False).parse_args(argv), build_parser().parse_args(argv)
    assert {k: v for k, v in vars(full).items() if k != "command"} == vars(fast)
    r = run_main("--check", "no-such-word")  # a usage error under --check is UNKNOWN either way
    assert r.returncode == 3 and "unrecognized arguments: no-such-word" in r.stderr


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings({}, config_path=str(tmp_path / "nope.toml"))


def test_dsn_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path / "c.toml", 'dsn = "host=from-file"\n')
    assert dsn_of(settings([])) == ""  # libpq defaults
    monkeypatch.setenv("DATABASE_URL", "postgresql://from-database-url/app")
    assert dsn_of(settings([])) == "postgresql://from-database-url/app"
    assert dsn_of(settings(["--config", cfg])) == "host=from-file"
    monkeypatch.setenv("PGCONSOLE_DSN", "host=from-env")
    assert dsn_of(settings(["--config", cfg])) == "host=from-env"
    assert dsn_of(settings(["--config", cfg, "--dsn", "host=from-flag"])) == "host=from-flag"
    assert (
        dsn_of(settings(["--config", cfg, "migrate", "--dsn", "host=after-subcommand"]))
        == "host=after-subcommand"
    )


def test_service_file_and_pgpass_work_through_connect(
    setup_db: SetUpDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = setup_db.cluster.info
    service = tmp_path / "pg_service.conf"
    service.write_text(
        f"[pgctest]\nhost={info.host}\nport={info.port}\ndbname={setup_db.name}\nuser=pgconsole_readonly\n"
    )
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(
        f"{info.host}:{info.port}:*:pgconsole_readonly:{role_password('pgconsole_readonly')}\n"
        f"{info.host}:{info.port}:*:{MIGRATOR}:{role_password(MIGRATOR)}\n"
    )
    pgpass.chmod(0o600)  # libpq ignores a .pgpass others can read
    monkeypatch.setenv("PGSERVICEFILE", str(service))
    monkeypatch.setenv("PGPASSFILE", str(pgpass))

    for dsn, env in (("service=pgctest", None), ("", "pgctest")):
        if env:
            monkeypatch.setenv("PGSERVICE", env)
        conn = connect(dsn, Purpose.CHECK, connect_timeout=5)
        try:
            row = conn.execute("SELECT current_user, current_database()").fetchone()
        finally:
            conn.close()
        assert row == ("pgconsole_readonly", setup_db.name)

    # The CLI with no --dsn at all: the service (and .pgpass for another user) through libpq.
    r = run_main(
        "migrate",
        "--status",
        env={
            "PGSERVICEFILE": str(service),
            "PGPASSFILE": str(pgpass),
            "PGSERVICE": "pgctest",
            "PGUSER": MIGRATOR,
        },
    )
    assert r.returncode == 0 and r.stdout.splitlines()[0] == "pending  0001_tables.sql", r

    # Control: a wrong .pgpass entry is really what authenticates (the server wants scram here).
    pgpass.write_text(f"{info.host}:{info.port}:*:pgconsole_readonly:wrong\n")
    with pytest.raises(ConnectError, match="password authentication failed"):
        connect("service=pgctest", Purpose.CHECK, connect_timeout=5).close()


@pytest.mark.parametrize("command", ["migrate", "setup", "doctor", "demo"])
def test_connection_flags_work_before_and_after_the_subcommand(command: str, tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", "[profiles.p]\nrefresh = 7\n")
    after = settings(
        [command, "--dsn", "host=after", "--config", cfg, "--profile", "p", "--connect-timeout", "3"]
    )
    before = settings(
        ["--dsn", "host=before", "--config", cfg, "--profile", "p", "--connect-timeout", "3", command]
    )
    assert (after.dsn, after.refresh, after.connect_timeout) == ("host=after", 7, 3)
    assert (before.dsn, before.refresh, before.connect_timeout) == ("host=before", 7, 3)
