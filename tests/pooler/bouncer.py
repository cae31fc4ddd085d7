"""A real PgBouncer (the Debian package) in front of a test cluster.

PgBouncer refuses to run as root, so when the tests run as root it is started with ``-u postgres``
(or ``nobody``) and its files live in a temporary directory that user can read and write.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pgconsole.embedded import free_port
from tests.pgcluster import LOGIN_ROLES, SUPERUSER_PASSWORD, Cluster, role_password

ADMIN_USER = "pgb_admin"
ADMIN_PASSWORD = "pgb-admin-pw-7"


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )


def _run_as() -> str | None:
    if os.getuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    return None


@dataclass
class Bouncer:
    port: int
    mode: str
    directory: Path
    proc: subprocess.Popen[bytes]
    host: str = "127.0.0.1"

    def dsn(self, dbname: str, role: str) -> str:
        pw = SUPERUSER_PASSWORD if role == "postgres" else role_password(role)
        return f"postgresql://{role}:{pw}@{self.host}:{self.port}/{dbname}"

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://{ADMIN_USER}:{ADMIN_PASSWORD}@{self.host}:{self.port}/pgbouncer"

    def admin(self) -> psycopg.Connection:
        conn = psycopg.connect(self.admin_dsn, autocommit=True, connect_timeout=5, prepare_threshold=None)
        return conn

    def log(self) -> str:
        try:
            return (self.directory / "pgbouncer.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_bouncer(
    cluster: Cluster, *, mode: str = "transaction", pool_size: int = 3, max_client_conn: int = 200
) -> Bouncer:
    binary = pgbouncer_binary()
    if binary is None:
        raise RuntimeError("pgbouncer is not installed (apt-get install pgbouncer)")
    directory = Path(tempfile.mkdtemp(prefix="pgconsole-pgbouncer-"))
    os.chmod(directory, 0o777)
    port = free_port()
    users = {"postgres": SUPERUSER_PASSWORD, ADMIN_USER: ADMIN_PASSWORD}
    users.update({r: role_password(r) for r in LOGIN_ROLES})
    (directory / "userlist.txt").write_text("".join(f'"{u}" "{p}"\n' for u, p in users.items()))
    (directory / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={cluster.info.host} port={cluster.info.port}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "auth_type = scram-sha-256\n"
        f"auth_file = {directory}/userlist.txt\n"
        f"admin_users = {ADMIN_USER}\n"
        f"pool_mode = {mode}\n"
        f"default_pool_size = {pool_size}\nmin_pool_size = 0\nreserve_pool_size = 0\n"
        f"max_client_conn = {max_client_conn}\n"
        f"logfile = {directory}/pgbouncer.log\n"
        "log_connections = 0\nlog_disconnections = 0\n"
        "server_lifetime = 3600\nserver_idle_timeout = 600\n"
    )
    for f in directory.iterdir():
        os.chmod(f, 0o644)
    cmd = [binary]
    user = _run_as()
    if user is not None:
        cmd += ["-u", user]
    cmd.append(str(directory / "pgbouncer.ini"))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    bouncer = Bouncer(port=port, mode=mode, directory=directory, proc=proc)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"pgbouncer exited: {err} {bouncer.log()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return bouncer
        except OSError:
            time.sleep(0.05)
    bouncer.stop()
    raise RuntimeError("pgbouncer did not start listening within 10 s")
