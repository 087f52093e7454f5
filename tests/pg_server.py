"""A real PostgreSQL server for the tests, started from Debian's binaries.

L{start} finds C{/usr/lib/postgresql/*/bin/initdb}, makes a cluster in a
temporary directory (trust authentication for one user, C{chat}), and runs
C{postgres} on 127.0.0.1 at a free port, its unix socket in that directory
(any other user needs its password: C{scram-sha-256}).
PostgreSQL refuses to run as root: when the tests are root, the cluster
belongs to the C{postgres} system user and the server runs as it.  Durability
is off (C{fsync=off}): a test server's data need not survive a power cut.

L{PostgresServer.stop} stops it by PID (C{pg_ctl stop -m fast}, then a
kill if it lingers) and removes the directory.  L{unavailable} says why no
server can be started here (no PostgreSQL, no psycopg), for a skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The user the tests connect as (a superuser of the test cluster).
USER = "chat"

#: The database the tests' schemas and databases are made in.
DATABASE = "chat"

#: Seconds the server has to start or stop.
TIMEOUT = 60.0


def _binaries() -> Path | None:
    """The newest installed PostgreSQL's bin directory."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda path: int(Path(path).parent.parent.name)
                   if Path(path).parent.parent.name.isdigit() else 0)
    return Path(found[-1]).parent if found else None


def unavailable() -> str | None:
    """Why no test server can run here, or C{None} if one can."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install '.[postgres]')"
    if _binaries() is None:
        return ("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb: "
                "apt-get install postgresql, as .ci/run does)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres system user to run PostgreSQL"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """A running test server: connect with L{url} (TCP) or L{conninfo} (its socket)."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes]
    bin: Path
    as_user: dict[str, Any] = field(default_factory=dict)
    _serial: int = 0

    @property
    def socket_dir(self) -> Path:
        return self.directory / "socket"

    def url(self, database: str = DATABASE, **options: str) -> str:
        """A C{postgresql://} URL over TCP on 127.0.0.1, as an operator writes one."""
        query = "&".join(f"{key}={value}" for key, value in options.items())
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}" + (
            f"?{query}" if query else "")

    def admin(self) -> Any:
        """A new autocommit connection to the C{chat} database, as the superuser."""
        import psycopg

        return psycopg.connect(host=str(self.socket_dir), port=self.port, user=USER,
                               dbname=DATABASE, autocommit=True)

    def next_name(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}_{os.getpid()}_{self._serial}"

    def stop(self) -> None:
        """Stop the server by its PID, then remove its directory."""
        try:
            if self.process.poll() is None:
                subprocess.run([str(self.bin / "pg_ctl"), "stop", "-D",
                                str(self.directory / "data"), "-m", "fast", "-w",
                                "-t", str(int(TIMEOUT))],
                               capture_output=True, timeout=TIMEOUT + 5, **self.as_user)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGQUIT)  # postgres' immediate shutdown
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=10)
            shutil.rmtree(self.directory, ignore_errors=True)


def start() -> PostgresServer:
    """initdb and start a server; raise C{RuntimeError} with its log if it will not."""
    import psycopg

    bin = _binaries()
    assert bin is not None, unavailable()
    directory = Path(tempfile.mkdtemp(prefix="chatsvc-pg-"))
    (directory / "socket").mkdir()
    as_user: dict[str, Any] = {}
    if os.geteuid() == 0:
        postgres = pwd.getpwnam("postgres")
        for path in (directory, directory / "socket"):
            os.chown(path, postgres.pw_uid, postgres.pw_gid)
        as_user = {"user": postgres.pw_uid, "group": postgres.pw_gid, "extra_groups": []}
    log = directory / "server.log"
    initdb = subprocess.run(
        [str(bin / "initdb"), "-D", str(directory / "data"), "-U", USER, "--auth=trust",
         "-E", "UTF8", "--locale=C", "--no-sync"],
        capture_output=True, text=True, timeout=TIMEOUT, cwd=directory, **as_user)
    if initdb.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {initdb.stderr.strip()}")
    # Trust for the test user; a password for any other (the wrong-password test).
    hba = directory / "data" / "pg_hba.conf"
    hba.write_text(f"local all {USER} trust\nhost all {USER} 127.0.0.1/32 trust\n"
                   "local all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n")
    if as_user:
        os.chown(hba, as_user["user"], as_user["group"])
    port = _free_port()
    with open(log, "wb") as output:
        if as_user:
            os.chown(log, as_user["user"], as_user["group"])
        process = subprocess.Popen(
            [str(bin / "postgres"), "-D", str(directory / "data"), "-p", str(port),
             "-h", "127.0.0.1", "-k", str(directory / "socket"),
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=200", "-c", "log_min_messages=warning"],
            stdout=output, stderr=subprocess.STDOUT, cwd=directory, **as_user)
    server = PostgresServer(directory, port, process, bin, as_user)
    deadline = time.monotonic() + TIMEOUT
    while True:
        if process.poll() is not None:
            text = log.read_text(errors="replace")
            server.stop()
            raise RuntimeError(f"postgres exited with {process.returncode}: {text[-2000:]}")
        try:
            with psycopg.connect(host=str(server.socket_dir), port=port, user=USER,
                                 dbname="postgres", autocommit=True, connect_timeout=2) as c:
                c.execute(f"CREATE DATABASE {DATABASE}")
            return server
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"postgres did not start within {TIMEOUT:.0f} s") from None
            time.sleep(0.1)
