"""Configuration: CLI flags > PGCONSOLE_* environment > TOML config file (with profiles) > defaults.

The config file is ``--config FILE``, else ``$PGCONSOLE_CONFIG``, else ``config.toml`` in the user
config directory (platformdirs). Layout::

    dsn = "postgresql://monitor@db1/app"     # never put a password here: use .pgpass or a service
    refresh = 2
    [thresholds.cache_hit]
    warn = "95%"
    crit = "90%"
    [profiles.prod]
    dsn = "service=prod"
    read_only = true

Values of a profile override the top-level ones. A bad value exits with one line naming the key.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class ConfigError(Exception):
    """A configuration problem, already phrased as one line for the user."""


def default_config_path() -> Path:
    return platformdirs.user_config_path("pgconsole") / "config.toml"


class _DictSource(PydanticBaseSettingsSource):
    """Values read from the TOML file (profile already merged)."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PGCONSOLE_", extra="forbid", validate_default=True)

    dsn: str | None = Field(default=None, description="libpq conninfo or URI")
    read_only: bool = False
    refresh: float = Field(default=2.0, gt=0.1, le=3600, description="dashboard refresh, seconds")
    timeout: float = Field(default=10.0, gt=0, le=3600, description="--check time limit, seconds")
    connect_timeout: float = Field(default=10.0, gt=0, le=600, description="seconds")
    thresholds: dict[str, dict[str, str | float | int]] = Field(default_factory=dict)
    profile: str | None = None
    config_file: str | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _DictSource(settings_cls, _FILE_VALUES.get("values", {})))


_FILE_VALUES: dict[str, dict[str, Any]] = {}


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
    _FILE_VALUES["values"] = file_values
    init = {k: v for k, v in (cli or {}).items() if v is not None}
    init["profile"] = profile
    init["config_file"] = str(path) if path.exists() else None
    try:
        return Settings(**init)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "?"
        raise ConfigError(f"config: {key}: {err['msg']}{_source_of(key.split('.')[0], init, file_values, path)}") from None
    finally:
        _FILE_VALUES.pop("values", None)


def _source_of(field: str, cli: dict[str, Any], file_values: dict[str, Any], path: Path) -> str:
    """Where the winning (bad) value came from, in the same precedence the sources have."""
    if field in cli:
        return f" (from --{field.replace('_', '-')})"
    env = f"PGCONSOLE_{field.upper()}"
    if env in os.environ:
        return f" (from ${env})"
    if field in file_values:
        return f" (config file {path})"
    return ""
