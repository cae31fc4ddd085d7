"""The one check registry: the TUI's health banner and ``pgconsole --check`` both run these.

A check is a name, a description, default thresholds with their source, the collectors it needs,
and a function from a :class:`~pgconsole.monitor.snapshot.Snapshot` to a :class:`CheckResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pgconsole.checks.result import CheckResult, PerfValue, Status
from pgconsole.checks.thresholds import Kind, ThresholdError, Thresholds, parse_value
from pgconsole.monitor.base import grant_read_all_stats
from pgconsole.monitor.snapshot import CUSTOM, Snapshot

if TYPE_CHECKING:
    from pgconsole.config import CustomCheck

CUSTOM_PREFIX = "custom."

Direction = Literal["above", "below"]
CheckFunc = Callable[[Snapshot, Thresholds], CheckResult]


@dataclass(frozen=True)
class CheckDef:
    name: str
    description: str
    kind: Kind
    direction: Direction
    warn: str | None
    crit: str | None
    source: str
    collectors: tuple[str, ...]
    func: CheckFunc
    needs_all_stats: bool = False
    """Needs to see every session (pg_read_all_stats); UNKNOWN naming the grant otherwise."""
    params: Mapping[str, tuple[Kind, str]] = field(default_factory=dict)
    """Extra settable parameters: name -> (kind, default)."""
    optional: bool = False
    """Runs only when its collectors were asked for (PgBouncer's, with pgbouncer_dsn): a snapshot
    without their state leaves it out of the results, unless it is named (``--only``): then it is
    UNKNOWN saying what to configure."""

    def defaults(self) -> Thresholds:
        return Thresholds(
            parse_value(self.warn, self.kind) if self.warn is not None else None,
            parse_value(self.crit, self.kind) if self.crit is not None else None,
            {k: parse_value(v, kind) for k, (kind, v) in self.params.items()},
        )


REGISTRY: dict[str, CheckDef] = {}


def check(
    name: str,
    description: str,
    *,
    kind: Kind,
    direction: Direction = "above",
    warn: str | None,
    crit: str | None,
    source: str,
    collectors: tuple[str, ...],
    needs_all_stats: bool = False,
    params: Mapping[str, tuple[Kind, str]] | None = None,
    optional: bool = False,
) -> Callable[[CheckFunc], CheckFunc]:
    def register(func: CheckFunc) -> CheckFunc:
        REGISTRY[name] = CheckDef(
            name,
            description,
            kind,
            direction,
            warn,
            crit,
            source,
            collectors,
            func,
            needs_all_stats,
            dict(params or {}),
            optional,
        )
        return func

    return register


def check_names() -> list[str]:
    from pgconsole.checks import builtin  # noqa: F401  (registers the checks)

    return list(REGISTRY)


def get_check(name: str) -> CheckDef:
    check_names()
    try:
        return REGISTRY[name]
    except KeyError:
        raise ThresholdError(f"unknown check {name!r} (known: {', '.join(REGISTRY)})") from None


def judge(value: float, t: Thresholds, direction: Direction = "above") -> Status:
    """check_postgres semantics: at or beyond the threshold."""
    if direction == "above":
        if t.crit is not None and value >= t.crit:
            return Status.CRITICAL
        if t.warn is not None and value >= t.warn:
            return Status.WARNING
    else:
        if t.crit is not None and value <= t.crit:
            return Status.CRITICAL
        if t.warn is not None and value <= t.warn:
            return Status.WARNING
    return Status.OK


def perf(value: float, unit: str, t: Thresholds, lo: float | None = 0, hi: float | None = None) -> PerfValue:
    return PerfValue(value=round(value, 3), unit=unit, warn=t.warn, crit=t.crit, min=lo, max=hi)


# What an optional check needs set up, for the UNKNOWN of one named without it.
OPTIONAL_SETUP = {
    "pgbouncer_clients_waiting": "set pgbouncer_dsn (config) or --pgbouncer DSN (PgBouncer's admin console)",
    "pgbouncer_maxwait": "set pgbouncer_dsn (config) or --pgbouncer DSN (PgBouncer's admin console)",
}


def resolve_thresholds(
    config: Mapping[str, Mapping[str, str | float | int]] | None = None,
    overrides: Mapping[str, Mapping[str, str | float | int]] | None = None,
) -> dict[str, Thresholds]:
    """Defaults, then the config file's ``[thresholds.NAME]``, then ``--set`` overrides.

    Raises :class:`ThresholdError` naming the check and key for an unknown name or a bad value.
    ``warn = "off"`` (or ``crit``) disables that level.
    """
    names = check_names()
    out = {n: REGISTRY[n].defaults() for n in names}
    for origin, layer in (("config", config or {}), ("--set", overrides or {})):
        for name, values in layer.items():
            if name not in REGISTRY:
                raise ThresholdError(f"{origin}: unknown check {name!r} (known: {', '.join(names)})")
            d = REGISTRY[name]
            t = out[name]
            for key, raw in values.items():
                try:
                    if key in ("warn", "crit"):
                        parsed = (
                            None if str(raw).strip().lower() in ("off", "none") else parse_value(raw, d.kind)
                        )
                        setattr(t, key, parsed)
                    elif key in d.params:
                        t.params[key] = parse_value(raw, d.params[key][0])
                    else:
                        allowed = ", ".join(["warn", "crit", *d.params])
                        raise ThresholdError(f"unknown key {key!r} (allowed: {allowed})")
                except ThresholdError as exc:
                    raise ThresholdError(f"{origin}: {name}.{key}: {exc}") from None
    return out


def collectors_for(only: Collection[str] | None) -> set[str]:
    """The collectors a set of checks needs (always the server, for the clock and identity; the
    custom checks' statements, ``custom``, when there are any)."""
    names = check_names() if only is None else [n for n in only if not n.startswith(CUSTOM_PREFIX)]
    needed = {"server", CUSTOM}
    if only is not None and not any(n.startswith(CUSTOM_PREFIX) for n in only):
        needed.discard(CUSTOM)
    for n in names:
        needed.update(get_check(n).collectors)
    return needed


def _unavailable(snap: Snapshot, d: CheckDef) -> CheckResult | None:
    """UNKNOWN when a collector the check needs did not produce data, or the role cannot see enough."""
    for c in d.collectors:
        st = snap.state(c)
        if st.status in ("disabled", "error", "skipped"):
            what = {"disabled": "cannot run", "error": "failed", "skipped": "not collected"}[st.status]
            msg = f"{c} collector {what}: {st.message}" if st.message else f"{c} collector {what}"
            if st.hint:
                msg += f"; fix: {st.hint}"
            return CheckResult(name=d.name, status=Status.UNKNOWN, message=msg, hint=st.hint)
    if d.needs_all_stats and not (snap.caps.can_read_all_stats or snap.caps.is_superuser):
        grant = grant_read_all_stats(snap.caps.current_user)
        return CheckResult(
            name=d.name,
            status=Status.UNKNOWN,
            message=f"role {snap.caps.current_user} cannot see other sessions; needs {grant}",
            hint=grant,
        )
    return None


def run_checks(
    snapshot: Snapshot,
    thresholds: Mapping[str, Thresholds] | None = None,
    only: Collection[str] | None = None,
    custom: Mapping[str, CustomCheck] | None = None,
) -> list[CheckResult]:
    """Judge one snapshot: a result per check (registry order), then the custom checks (``custom``:
    ``[checks.custom.NAME]``, named ``custom.NAME``). Never raises for a check's bug: that check is
    UNKNOWN with the error."""
    from pgconsole.checks.custom import custom_results

    builtin = None if only is None else [n for n in only if not n.startswith(CUSTOM_PREFIX)]
    names = check_names() if builtin is None else [get_check(n).name for n in builtin]
    resolved = thresholds or resolve_thresholds()
    results = []
    for n in names:
        d = REGISTRY[n]
        t = resolved.get(n) or d.defaults()
        if d.optional and any(c not in snapshot.collectors for c in d.collectors):
            if only is None:
                continue  # not configured: not run
            results.append(
                CheckResult(
                    name=n,
                    status=Status.UNKNOWN,
                    message=f"not configured: {OPTIONAL_SETUP.get(n, 'its collector is not set up')}",
                    hint=OPTIONAL_SETUP.get(n),
                )
            )
            continue
        res = _unavailable(snapshot, d)
        if res is None:
            try:
                res = d.func(snapshot, t)
            except Exception as exc:  # contain a check's bug; the others still answer
                res = CheckResult(
                    name=n, status=Status.UNKNOWN, message=f"internal error: {type(exc).__name__}: {exc}"
                )
        results.append(res)
    if custom:
        results += custom_results(snapshot, custom, only)
    return results
