"""Private PostgreSQL and Redis servers for development, tests and the benchmark.

When `DATABASE_URL` (or `REDIS_URL`) is unset, `make run` and `make test` start a server of our own
under `SLOTBOOKING_DATA_DIR` (default `./var`), listening on 127.0.0.1 at a port picked once and
kept in the data dir, so it never collides with a server already on 5432 or 6379.

Importing this module starts nothing: settings only ask for the URL. The Makefile starts and stops
the servers through the command line:

    python -m devserver.embedded postgres start|stop|status|url
    python -m devserver.embedded redis start|stop|status|url

PostgreSQL refuses to run as root. As root we run its binaries inside a user namespace in which
our uid is mapped to an unprivileged one (`unshare --user --map-user`): the server sees a normal
user, the files stay ours, and no directory permissions need to change.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "slotbooking"
DATABASE_USER = "postgres"


class EmbeddedError(RuntimeError):
    """An embedded server could not be found, started or reached; the message says what to do."""


def data_dir() -> Path:
    return Path(os.environ.get("SLOTBOOKING_DATA_DIR") or BASE_DIR / "var").resolve()


# PORTS --------------------------------------------------------------------------------------
def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Without /proc (macOS, BSD) assume the IANA ephemeral range.
DEFAULT_EPHEMERAL_RANGE = (49152, 65535)
LOWEST_PORT = 10000  # above the well-known and most registered service ports


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel hands out to outgoing connections (first, last)."""
    try:
        first, last = (int(part) for part in EPHEMERAL_RANGE_FILE.read_text().split()[:2])
    except (OSError, ValueError):
        return DEFAULT_EPHEMERAL_RANGE
    return first, last


def candidate_ports() -> list[int]:
    """Ports we may listen on: 10000-65535 outside the ephemeral range.

    A port inside that range can be held at any moment by an outgoing connection of any
    program, so a server recorded there could find its port taken at the next start.
    """
    first, last = ephemeral_range()
    ports = [p for p in range(LOWEST_PORT, 65536) if not first <= p <= last]
    return ports or list(range(LOWEST_PORT, 65536))  # a range that covers everything


def _preferred_port(service: str) -> int:
    # Stable per data dir, so two checkouts on one machine rarely pick the same port.
    digest = hashlib.sha256(f"{service}:{data_dir()}".encode()).digest()
    ports = candidate_ports()
    return ports[int.from_bytes(digest[:4], "big") % len(ports)]


def _pick_free_port(service: str, *, avoid: int | None = None) -> int:
    ports = candidate_ports()
    start = ports.index(_preferred_port(service))
    for step in range(len(ports)):
        candidate = ports[(start + step * 7919) % len(ports)]
        if candidate != avoid and _port_is_free(candidate):
            return candidate
    raise EmbeddedError(f"No free port for {service} outside the ephemeral range.")


def _port(service: str, *, pick: bool) -> int:
    """The service's port, from its port file; `pick` chooses and records one if there is none."""
    port_file = data_dir() / service / "port"
    if port_file.exists():
        return int(port_file.read_text().strip())
    if not pick:
        return _preferred_port(service)
    return _record_new_port(service)


def _record_new_port(service: str, *, avoid: int | None = None) -> int:
    port = _pick_free_port(service, avoid=avoid)
    port_file = data_dir() / service / "port"
    port_file.parent.mkdir(parents=True, exist_ok=True)
    port_file.write_text(f"{port}\n")
    return port


def _free_port_for_start(service: str, port: int) -> int:
    """The port to start a stopped server on: the recorded one, or a new free one if taken.

    Called only when our server is not running, so whatever holds the port is another program
    (often a passing outgoing connection); the new port is recorded for the next starts.
    """
    first, last = ephemeral_range()
    if _port_is_free(port) and not first <= port <= last:
        return port
    new_port = _record_new_port(service, avoid=port)
    why = "is taken by another program" if not _port_is_free(port) else "is an ephemeral port"
    print(f"{service}: port {port} {why}; using port {new_port} from now on.", file=sys.stderr)
    return new_port


def _wait_for_port(port: int, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


# POSTGRESQL ---------------------------------------------------------------------------------
def database_url() -> str:
    return f"postgres://{DATABASE_USER}@127.0.0.1:{_port('postgres', pick=False)}/{DATABASE_NAME}"


POSTGRES_INSTALL_HINT = (
    "No PostgreSQL server binaries (initdb, pg_ctl, postgres) were found.\n"
    "Install them, or set DATABASE_URL to an existing server (PostgreSQL 14 or newer):\n"
    "  Debian/Ubuntu:  sudo apt-get install postgresql\n"
    "  Fedora/RHEL:    sudo dnf install postgresql-server\n"
    "  macOS:          brew install postgresql@16\n"
    "Or point PG_BINDIR at the folder that holds initdb."
)


def _version_key(path: str) -> tuple[int, ...]:
    digits = "".join(ch if ch.isdigit() else " " for ch in path).split()
    return tuple(int(d) for d in digits)


def postgres_bindir() -> Path:
    """The folder with initdb/pg_ctl/postgres: PG_BINDIR, pg_config, PATH, OS package folders."""
    candidates: list[str] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(os.environ["PG_BINDIR"])
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run(  # noqa: S603  # pg_config from PATH, fixed arguments
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        )
        if result.returncode == 0:
            candidates.append(result.stdout.strip())
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).resolve().parent))
    for pattern in (
        "/usr/lib/postgresql/*/bin",  # Debian, Ubuntu
        "/usr/pgsql-*/bin",  # PGDG RPMs
        "/opt/homebrew/opt/postgresql@*/bin",
        "/usr/local/opt/postgresql@*/bin",
        "/usr/local/pgsql/bin",
        "/Applications/Postgres.app/Contents/Versions/*/bin",
    ):
        candidates.extend(sorted(glob.glob(pattern), key=_version_key, reverse=True))
    for candidate in candidates:
        folder = Path(candidate)
        if all((folder / name).exists() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise EmbeddedError(POSTGRES_INSTALL_HINT)


def _as_unprivileged(command: list[str]) -> list[str]:
    """Prefix `command` so that it does not run as root (initdb and postgres refuse root)."""
    if os.geteuid() != 0:
        return command
    unshare = shutil.which("unshare")
    if unshare is None:
        raise EmbeddedError(
            "Running as root, and `unshare` (util-linux) is missing: PostgreSQL refuses to run as "
            "root. Install util-linux, run as a normal user, or set DATABASE_URL."
        )
    return [unshare, "--user", "--map-user=1000", "--map-group=1000", "--", *command]


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, text=True, capture_output=True, check=False, **kwargs)  # type: ignore[call-overload]  # noqa: S603


def _pg_paths() -> tuple[Path, Path, Path]:
    root = data_dir() / "postgres"
    return root, root / "data", root / "server.log"


def postgres_running() -> bool:
    bindir = postgres_bindir()
    _, pgdata, _ = _pg_paths()
    if not (pgdata / "PG_VERSION").exists():
        return False
    return (
        _run(_as_unprivileged([str(bindir / "pg_ctl"), "-D", str(pgdata), "status"])).returncode
        == 0
    )


def postgres_start() -> str:
    """Create the cluster if needed, start it if stopped, create the database; return its URL."""
    bindir = postgres_bindir()
    root, pgdata, log = _pg_paths()
    root.mkdir(parents=True, exist_ok=True)
    port = _port("postgres", pick=True)
    if not (pgdata / "PG_VERSION").exists():
        if pgdata.exists():
            shutil.rmtree(pgdata)  # a half-made cluster from an interrupted first run
        result = _run(
            _as_unprivileged(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(pgdata),
                    "-U",
                    DATABASE_USER,
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]
            )
        )
        if result.returncode != 0:
            raise EmbeddedError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        with (pgdata / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# slotbooking embedded server\n"
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                "max_connections = 300\n"
                "shared_buffers = 256MB\n"
                "timezone = 'UTC'\n"
                "log_timezone = 'UTC'\n"
            )
    if not postgres_running():
        port = _free_port_for_start("postgres", port)
        result = _run(
            _as_unprivileged(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(pgdata),
                    "-o",
                    f"-p {port}",
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            start_new_session=True,  # Ctrl-C on `make run` must not stop the reusable cluster
        )
        if result.returncode != 0:
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise EmbeddedError(f"PostgreSQL did not start:\n{result.stderr}\n{tail}")
    _create_database(port)
    return database_url()


def _create_database(port: int) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(
                host="127.0.0.1", port=port, user=DATABASE_USER, dbname="postgres", autocommit=True
            ) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
                ).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def postgres_stop() -> None:
    bindir = postgres_bindir()
    _, pgdata, _ = _pg_paths()
    if postgres_running():
        _run(_as_unprivileged([str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "stop"]))


# REDIS --------------------------------------------------------------------------------------
REDIS_INSTALL_HINT = (
    "No redis-server binary was found. Install it (Debian/Ubuntu: sudo apt-get install "
    "redis-server; macOS: brew install redis), or set REDIS_URL to an existing server."
)


def redis_url() -> str:
    return f"redis://127.0.0.1:{_port('redis', pick=False)}/0"


def _redis_server() -> str:
    found = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    if not found and Path("/usr/bin/redis-server").exists():
        found = "/usr/bin/redis-server"
    if not found:
        raise EmbeddedError(REDIS_INSTALL_HINT)
    return found


def _redis_pid() -> int | None:
    """The pid of our Redis if its pid file names a live process."""
    try:
        pid = int((data_dir() / "redis" / "redis.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def redis_running() -> bool:
    return _redis_pid() is not None and _wait_for_port(_port("redis", pick=False), seconds=0.2)


def redis_start() -> str:
    """Start the private Redis if it is not running; return its URL."""
    root = data_dir() / "redis"
    root.mkdir(parents=True, exist_ok=True)
    port = _port("redis", pick=True)
    if redis_running():
        return redis_url()
    port = _free_port_for_start("redis", port)
    result = _run(
        [
            _redis_server(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--daemonize",
            "yes",
            "--pidfile",
            str(root / "redis.pid"),
            "--logfile",
            str(root / "redis.log"),
            "--dir",
            str(root),
            "--save",
            "",
            "--appendonly",
            "no",
            # A booking task must never be evicted to make room.
            "--maxmemory-policy",
            "noeviction",
        ],
        start_new_session=True,
    )
    if result.returncode != 0 or not _wait_for_port(port, seconds=10):
        raise EmbeddedError(f"Redis did not start:\n{result.stdout}\n{result.stderr}")
    return redis_url()


def redis_stop() -> None:
    """Stop our Redis and wait (up to 10 s) until its process is gone."""
    pid = _redis_pid()
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 15)
        deadline = time.monotonic() + 10
        while _redis_pid() == pid and time.monotonic() < deadline:
            time.sleep(0.05)
    (data_dir() / "redis" / "redis.pid").unlink(missing_ok=True)


# COMMAND LINE -------------------------------------------------------------------------------
def main(argv: list[str]) -> int:
    actions = {
        ("postgres", "start"): lambda: print(postgres_start()),
        ("postgres", "stop"): postgres_stop,
        ("postgres", "status"): lambda: print("running" if postgres_running() else "stopped"),
        ("postgres", "url"): lambda: print(database_url()),
        ("redis", "start"): lambda: print(redis_start()),
        ("redis", "stop"): redis_stop,
        ("redis", "status"): lambda: print("running" if redis_running() else "stopped"),
        ("redis", "url"): lambda: print(redis_url()),
    }
    action = actions.get(tuple(argv[:2]))  # type: ignore[arg-type]
    if action is None:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        action()
    except EmbeddedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
