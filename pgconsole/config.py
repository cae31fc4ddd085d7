"""Configuration: CLI flags > PGCONSOLE_* environment > TOML config file (with profiles) > defaults.
Every setting, the connection string and the timeouts included, is resolved here and nowhere else.

The config file is ``--config FILE``, else ``$PGCONSOLE_CONFIG``, else ``config.toml`` in the user
config directory (platformdirs). Layout::

    dsn = "postgresql://monitor@db1/app"     # never put a password here: use .pgpass or a service
    refresh = 2
    [thresholds.cache_hit]
    warn = "95%"
    crit = "90%"
    [checks.custom.orders_backlog]            # a check of one's own: sql, warn, crit (docs/configuration.md)
    warn = 100
    crit = 1000
    [queues.app_jobs]                        # a team's own jobs table (docs/queues.md)
    table = "public.jobs"
    [profiles.prod]
    dsn = "service=prod"
    read_only = true

Values of a profile override the top-level ones. A bad value exits with one line naming the key.

The environment is read here rather than through pydantic-settings: its import (dotenv, its CLI
and cloud-secret sources) is a large part of `pgconsole --check`'s start-up budget (docs/BENCHMARKS.md).
What it did for us is small and kept: ``PGCONSOLE_<FIELD>`` for each field, names matched
case-insensitively, table-valued fields given as JSON, and the precedence CLI > environment > file,
with pydantic doing the validation and coercion.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ENV_PREFIX = "PGCONSOLE_"


class ConfigError(Exception):
    """A configuration problem, already phrased as one line for the user."""


def default_config_path() -> Path:
    return platformdirs.user_config_path("pgconsole") / "config.toml"


CustomDirection = Literal["high-is-bad", "low-is-bad"]


class CustomCheck(BaseModel):
    """``[checks.custom.NAME]``: a statement returning one number, judged against warn and crit.

    Run read-only under the check's statement timeout (monitor/custom.py); the check is named
    ``custom.NAME`` in --check, the console's banner and the exporter."""

    model_config = ConfigDict(extra="forbid")

    sql: str = Field(min_length=1, description="one statement returning one row with one number")
    warn: float
    crit: float
    unit: str = Field(default="", max_length=16, description="shown after the value (s, %, B, ...)")
    direction: CustomDirection = "high-is-bad"
    description: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> CustomCheck:
        if not self.sql.strip():
            raise ValueError("sql is empty")
        if self.direction == "high-is-bad" and self.warn > self.crit:
            raise ValueError(f"warn ({self.warn:g}) is above crit ({self.crit:g}) for a high-is-bad check")
        if self.direction == "low-is-bad" and self.warn < self.crit:
            raise ValueError(f"warn ({self.warn:g}) is below crit ({self.crit:g}) for a low-is-bad check")
        return self


_CUSTOM_NAME = r"^[A-Za-z0-9_]{1,63}$"


class ChecksConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    custom: dict[str, CustomCheck] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names(self) -> ChecksConfig:
        for name in self.custom:
            if not re.match(_CUSTOM_NAME, name):
                raise ValueError(f"custom check name {name!r}: use letters, digits and _ (at most 63)")
        return self


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    dsn: str | None = Field(default=None, description="libpq conninfo or URI")
    read_only: bool = False
    refresh: float = Field(default=2.0, gt=0.1, le=3600, description="dashboard refresh, seconds")
    timeout: float = Field(default=10.0, gt=0, le=3600, description="--check time limit, seconds")
    connect_timeout: float = Field(default=10.0, gt=0, le=600, description="seconds")
    thresholds: dict[str, dict[str, str | float | int]] = Field(default_factory=dict)
    pooler: Literal["auto", "none", "transaction", "session"] = Field(
        default="auto",
        description="what sits between pgconsole and the server: auto-detected, none, or a pooler's mode",
    )
    listen_dsn: str | None = Field(
        default=None,
        description="a direct connection to the server for the worker's LISTEN when dsn goes through a pooler",
    )
    pgbouncer_dsn: str | None = Field(
        default=None, description="PgBouncer's admin console (database pgbouncer): its pools in the console"
    )
    checks: ChecksConfig = Field(default_factory=ChecksConfig)
    queues: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='[queues.NAME]: a team\'s own jobs table (table = "public.jobs"; docs/queues.md)',
    )
    profile: str | None = None
    config_file: str | None = None

    def target_dsn(self) -> str:
        """Where to connect: --dsn > $PGCONSOLE_DSN > the config file (all three in ``dsn``) >
        $DATABASE_URL > "" (libpq's own defaults: PGHOST, PGSERVICE, .pgpass, which libpq reads)."""
        return self.dsn or os.environ.get("DATABASE_URL") or ""

    def chosen_connect_timeout(self) -> float | None:
        """The connect timeout the user set (flag, environment or file), else None: then the DSN's
        ``connect_timeout`` or $PGCONNECT_TIMEOUT applies, else db.connect's default."""
        return self.connect_timeout if "connect_timeout" in self.model_fields_set else None


# Fields a user sets as a table (TOML) and so as JSON in the environment.
_JSON_FIELDS = frozenset({"thresholds", "checks", "queues"})


def _env_values() -> dict[str, Any]:
    """``PGCONSOLE_<FIELD>`` for each settings field (case-insensitive; an empty value counts)."""
    by_lower = {k.lower(): v for k, v in os.environ.items()}
    values: dict[str, Any] = {}
    for field in Settings.model_fields:
        raw = by_lower.get(f"{ENV_PREFIX}{field}".lower())
        if raw is None:
            continue
        if field in _JSON_FIELDS:
            try:
                values[field] = json.loads(raw)
            except ValueError as exc:
                raise ConfigError(
                    f"config: {field}: not valid JSON: {exc} (from ${ENV_PREFIX}{field.upper()})"
                ) from None
        else:
            values[field] = raw
    return values


def profile_names(config_file: str) -> list[str]:
    """The profiles of a config file, in file order ([] when it cannot be read)."""
    try:
        data = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    profiles = data.get("profiles")
    return [str(n) for n in profiles] if isinstance(profiles, dict) else []


def _read_file(path: Path, profile: str | None, explicit: bool) -> dict[str, Any]:
    if not path.exists():
        if explicit:
            raise ConfigError(f"config file {path}: not found")
        if profile:
            raise ConfigError(f"--profile {profile}: no config file at {path}")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: invalid TOML: {exc}") from None
    profiles = data.pop("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"config file {path}: key 'profiles' must be a table of tables")
    if profile:
        if profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            raise ConfigError(f"config file {path}: profile '{profile}' not found (profiles: {known})")
        chosen = profiles[profile]
        if not isinstance(chosen, dict):
            raise ConfigError(f"config file {path}: profiles.{profile} must be a table")
        merged = {**data, **chosen}
        if "thresholds" in data and "thresholds" in chosen:
            merged["thresholds"] = {**data["thresholds"], **chosen["thresholds"]}
        base, own = data.get("checks"), chosen.get("checks")
        if isinstance(base, dict) and isinstance(own, dict):
            # A profile's custom check replaces the top-level one of that name, as a whole.
            merged["checks"] = {**base, **own}
            if isinstance(base.get("custom"), dict) and isinstance(own.get("custom"), dict):
                merged["checks"]["custom"] = {**base["custom"], **own["custom"]}
        return merged
    return data


def load_settings(
    cli: dict[str, Any] | None = None,
    *,
    config_path: str | None = None,
    profile: str | None = None,
) -> Settings:
    """Build the settings; raise :class:`ConfigError` with one line naming the bad key."""
    explicit = config_path or os.environ.get("PGCONSOLE_CONFIG")
    path = Path(explicit) if explicit else default_config_path()
    profile = profile or os.environ.get("PGCONSOLE_PROFILE")
    file_values = _read_file(path, profile, bool(explicit))
    env_values = _env_values()
    init = {k: v for k, v in (cli or {}).items() if v is not None}
    init["profile"] = profile
    init["config_file"] = str(path) if path.exists() else None
    try:
        return Settings(**_deep_merge(_deep_merge(file_values, env_values), init))
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "?"
        raise ConfigError(
            f"config: {key}: {err['msg']}{_source_of(key.split('.')[0], init, file_values, path)}"
        ) from None


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` wins; tables merge key by key (a threshold set in the environment keeps the file's
    other thresholds), as pydantic-settings merged its sources."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _source_of(field: str, cli: dict[str, Any], file_values: dict[str, Any], path: Path) -> str:
    """Where the winning (bad) value came from, in the same precedence the sources have."""
    if field in cli:
        return f" (from --{field.replace('_', '-')})"
    env = f"{ENV_PREFIX}{field.upper()}"
    if env.lower() in {k.lower() for k in os.environ}:
        return f" (from ${env})"
    if field in file_values:
        return f" (config file {path})"
    return ""
