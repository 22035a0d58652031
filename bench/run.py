"""`make bench`: throughput and latency of the real HTTP path, beside the database's ceiling.

    make bench                      # what CI and the README run
    make bench BENCH_RESEED=1       # rebuild the bench database first
    BENCH_SCENARIOS=get-slot BENCH_CONNECTIONS=16 BENCH_LABEL=try make bench   # an experiment

Steps: create, migrate and seed the database slotbooking_bench on the same server (the dev
database is never touched); start gunicorn exactly as `make run` does, on a free port; drive it
with wrk (or bench/loadgen.py) from a separate process, scenario by scenario, at 1, 8 and 16
connections; run the same booking transaction through pgbench at the same client counts; profile
the booking request with pyinstrument; check the invariants in SQL; print one table and write
bench/results/latest.{json,md} plus a timestamped copy. Exits 1 when an invariant is broken or a
scenario answered something it must not.

Knobs (environment): BENCH_DURATION (s, 10), BENCH_CONNECTIONS ("1,8,16"), BENCH_SCENARIOS (all),
BENCH_RESEED, BENCH_DB / BENCH_DATABASE_URL, WEB_CONCURRENCY (workers; see gunicorn_conf.py),
BENCH_GUNICORN_ARGS (extra flags, for experiments), BENCH_LOADGEN (wrk | python),
BENCH_PGBENCH (1), BENCH_PROFILE_REQUESTS (300; 0 skips), BENCH_LABEL (write
bench/results/experiments/LABEL.* instead of latest.*), BENCH_SEED (random seed, 1),
BENCH_BASELINE (a git rev: A/B against it in the same run, see bench/baseline.py),
BENCH_ROUNDS (A/B only, 1: runs per side of each (scenario, connections), alternating; the
median counts),
BENCH_BASELINE_REDIS_DB (the baseline's Redis database number; the current one's + 1).
"""

# ruff: noqa: S311, S603, S607  # random benchmark inputs; runs our own tools (gunicorn, wrk, pgbench, git) with fixed arguments

from __future__ import annotations

import glob
import json
import os
import platform
import random
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from bench import fixture
from bench.baseline import Baseline, BaselineScenario
from bench.fixture import BENCH_DIR, ROOT, connect, env_int, log
from bench.scenarios import SCENARIOS, Context, Request, Scenario

RESULTS = fixture.RESULTS_DIR
WRK_SCRIPT = BENCH_DIR / "wrk" / "requests.lua"
PGBENCH_SCRIPT = BENCH_DIR / "pgbench" / "booking.sql"
TICKS = os.sysconf("SC_CLK_TCK")


# SETTINGS ---------------------------------------------------------------------------------------
class Settings:
    def __init__(self) -> None:
        self.duration = float(os.environ.get("BENCH_DURATION") or 10)
        self.connections = [
            int(c) for c in (os.environ.get("BENCH_CONNECTIONS") or "1,8,16").split(",") if c
        ]
        wanted = [s for s in (os.environ.get("BENCH_SCENARIOS") or "").split(",") if s]
        unknown = set(wanted) - {s.name for s in SCENARIOS}
        if unknown:
            raise SystemExit(f"unknown BENCH_SCENARIOS {sorted(unknown)}")
        self.scenarios = [s for s in SCENARIOS if not wanted or s.name in wanted]
        self.reseed = (os.environ.get("BENCH_RESEED") or "0").lower() in ("1", "true", "yes")
        self.workers = os.environ.get("WEB_CONCURRENCY")  # else slotbooking/gunicorn_conf.py
        self.gunicorn_args = shlex.split(os.environ.get("BENCH_GUNICORN_ARGS") or "")
        self.loadgen = os.environ.get("BENCH_LOADGEN") or (
            "wrk" if shutil.which("wrk") else "python"
        )
        self.pgbench = (os.environ.get("BENCH_PGBENCH") or "1") not in ("0", "false", "no")
        self.profile_requests = env_int("BENCH_PROFILE_REQUESTS", 300)
        self.label = os.environ.get("BENCH_LABEL") or ""
        self.seed = env_int("BENCH_SEED", 1)
        self.baseline = os.environ.get("BENCH_BASELINE") or ""
        self.rounds = max(1, int(os.environ.get("BENCH_ROUNDS") or 1))


# CPU ACCOUNTING ---------------------------------------------------------------------------------
def _machine_ticks() -> tuple[int, int]:
    """(busy, steal) clock ticks of the whole machine since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return user + nice + system + irq + softirq, steal


def _cpu_by_group(server_pids: set[int]) -> dict[str, float]:
    """CPU seconds used so far: app (gunicorn), db, loadgen, other, and the whole machine.

    PostgreSQL backends that exit during a run (pgbench's) are counted through the
    postmaster's cutime/cstime; the load generator through this process's reaped children.
    """
    groups = {"app": 0.0, "db": 0.0, "loadgen": 0.0, "other": 0.0}
    me = os.getpid()
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = Path(stat).read_text()
        except OSError:
            continue
        pid = int(stat.split("/")[2])
        comm = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        ppid = int(fields[1])
        seconds = (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
        if pid in server_pids or ppid in server_pids:
            groups["app"] += seconds
        elif comm.startswith("postgres") or comm == "postmaster":
            reaped = (int(fields[13]) + int(fields[14])) / TICKS  # cutime + cstime
            groups["db"] += seconds + (reaped if ppid != 0 and not _is_postgres(ppid) else 0)
        elif pid != me and ppid != me:
            groups["other"] += seconds
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    groups["loadgen"] = children.ru_utime + children.ru_stime
    busy, steal = _machine_ticks()
    groups["machine"] = busy / TICKS
    groups["steal"] = steal / TICKS
    return groups


def _is_postgres(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return "(postgres" in stat


@contextmanager
def cpu_meter(server_pids: set[int], into: dict[str, Any]) -> Iterator[None]:
    """Cores each group used while the block ran (1.0 = one core busy the whole time).

    `machine` is every core's busy time, whoever used it, and `steal` the time the hypervisor
    gave to other guests: when machine is well above app + db + loadgen, or steal is high,
    something else was competing and the numbers are not comparable.
    """
    before, started = _cpu_by_group(server_pids), time.monotonic()
    yield
    after, elapsed = _cpu_by_group(server_pids), time.monotonic() - started
    into["cpu_cores_used"] = {
        group: round(max(0.0, after[group] - before[group]) / elapsed, 2) for group in after
    }


# MEMORY -----------------------------------------------------------------------------------------
def _children(parents: set[int]) -> list[int]:
    """The processes whose parent is one of `parents` (gunicorn's workers, Celery's)."""
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = Path(stat).read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2 :].split()[1]) in parents:
            found.append(int(stat.split("/")[2]))
    return sorted(found)


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None  # gone (a worker recycled during the run)


def server_processes(server: Server) -> dict[str, list[int]]:
    """gunicorn's workers and, in queued mode, the booking workers (run_booking_workers' Celery
    children), by pid."""
    web = _children({server.process.pid}) if server.process else []
    queue = _children({server.workers.pid}) if server.workers else []
    return {"web": web, "queue": queue}


@contextmanager
def peak_rss_meter(server: Server, into: dict[str, Any]) -> Iterator[None]:
    """Each worker's peak resident memory during the block, in MB (VmHWM).

    Writing 5 to /proc/<pid>/clear_refs resets the high-water mark to the current RSS (Linux
    4.0+), so the figure is this run's peak, not the largest since the worker started.
    """
    processes = server_processes(server)
    reset = True
    for pid in processes["web"] + processes["queue"]:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            reset = False
    yield
    after = server_processes(server)
    for group, key in (("web", "worker_peak_rss_mb"), ("queue", "queue_worker_peak_rss_mb")):
        peaks = [mb for mb in map(_peak_rss_mb, after[group]) if mb is not None]
        if peaks:
            into[key] = peaks
    into["peak_rss_reset"] = reset


# The booking scenarios send thousands of requests per user and minute: the per-user limit
# (10 a minute by default) is raised out of reach, but the limiter still counts every request.
BENCH_RATE_LIMIT = 1_000_000_000
BENCH_SERVER_ENV = {"BOOKING_RATE_LIMIT": str(BENCH_RATE_LIMIT)}


# SERVER -----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """gunicorn as `make run` serves it, on a free port, against the bench database.

    `root` and `python` are another checkout's and its interpreter for the A/B baseline.
    """

    def __init__(
        self,
        settings: Settings,
        url: str,
        env: dict[str, str],
        log_path: Path,
        *,
        root: Path = ROOT,
        python: str = sys.executable,
    ) -> None:
        self.port = free_port()
        self.root = root
        gunicorn = str(Path(python).parent / "gunicorn")
        self.command = [
            gunicorn,
            "slotbooking.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "-c",
            "slotbooking/gunicorn_conf.py",
            *(["--workers", settings.workers] if settings.workers else []),
            "--log-level",
            "warning",
            *settings.gunicorn_args,
        ]
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "PORT": str(self.port),
            **BENCH_SERVER_ENV,
            **env,
        }
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        # Queued mode: the booking workers run beside gunicorn, as `make run` starts them.
        self.workers_command = (
            [python, "manage.py", "run_booking_workers", "--loglevel", "warning"]
            if env.get("BOOKING_MODE") == "queued"
            else None
        )
        self.workers: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.workers_command:
            log(f"starting {' '.join(self.workers_command[1:])}")
            with self.log_path.open("ab") as out:
                self.workers = subprocess.Popen(
                    self.workers_command, cwd=self.root, env=self.env, stdout=out, stderr=out
                )
        log(f"starting {' '.join(self.command[1:])}")
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                self.command, cwd=self.root, env=self.env, stdout=out, stderr=out
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited at start; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"gunicorn did not answer /api/health within 60 s; see {self.log_path}")

    def pids(self) -> set[int]:
        # gunicorn's master and the workers' supervisor: their children are the app's CPU.
        return {p.pid for p in (self.process, self.workers) if p is not None}

    def stop(self) -> None:
        if self.workers and self.workers.poll() is None:
            self.workers.send_signal(signal.SIGTERM)  # warm shutdown: running tasks finish
            try:
                self.workers.wait(30)
            except subprocess.TimeoutExpired:
                self.workers.kill()
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# LOAD -------------------------------------------------------------------------------------------
def drive(
    settings: Settings,
    server: Server,
    requests: list[Request],
    connections: int,
    workdir: Path,
    *,
    min_duration: float = 0,
) -> dict[str, Any]:
    """Replay `requests` over `connections` keep-alive connections for BENCH_DURATION seconds
    (at least `min_duration`)."""
    requests_file = workdir / "requests.tsv"
    requests_file.write_text("\n".join(r.line() for r in requests) + "\n")
    result_file = workdir / "result.json"
    result_file.unlink(missing_ok=True)
    duration = max(1, round(settings.duration), round(min_duration))
    if settings.loadgen == "wrk":
        threads = 1 if connections == 1 else min(connections, 2)
        command = [
            "wrk",
            f"--threads={threads}",
            f"--connections={connections}",
            f"--duration={duration}s",
            "--timeout=10s",
            f"--script={WRK_SCRIPT}",
            f"http://127.0.0.1:{server.port}",
        ]
        env = {
            **os.environ,
            "BENCH_REQUESTS": str(requests_file),
            "BENCH_THREADS": str(threads),
            "BENCH_RESULT": str(result_file),
        }
    else:
        command = [
            sys.executable,
            "-m",
            "bench.loadgen",
            f"--port={server.port}",
            f"--connections={connections}",
            f"--duration={duration}",
            f"--requests={requests_file}",
            f"--result={result_file}",
        ]
        env = dict(os.environ)
    measured: dict[str, Any] = {}
    with peak_rss_meter(server, measured), cpu_meter(server.pids(), measured):
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not result_file.exists():
        raise SystemExit(f"{command[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result = json.loads(result_file.read_text())
    result.update(measured)
    seconds = result["duration_us"] / 1e6
    result["rps"] = round(result["requests"] / seconds, 1) if seconds else 0.0
    return result


# PGBENCH ----------------------------------------------------------------------------------------
def pgbench_binary() -> str | None:
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"), reverse=True)
    return candidates[0] if candidates else None


def load_pairs(conn: Any, pairs: list[tuple[str, str]]) -> None:
    conn.execute(
        "CREATE UNLOGGED TABLE IF NOT EXISTS bench_pairs "
        "(n integer PRIMARY KEY, user_id uuid NOT NULL, slot_id uuid NOT NULL)"
    )
    with conn.transaction():
        conn.execute("TRUNCATE bench_pairs")
        with conn.cursor().copy("COPY bench_pairs (n, user_id, slot_id) FROM STDIN") as copy:
            for n, (user, slot) in enumerate(pairs, start=1):
                copy.write_row((n, user, slot))
    conn.execute("ANALYZE bench_pairs")


def count_bookings(conn: Any) -> int:
    row = conn.execute("SELECT count(*) FROM bookings").fetchone()
    return int(row[0]) if row else 0


def run_pgbench(
    settings: Settings, url: str, connections: int, conn: Any, rng: random.Random, workdir: Path
) -> dict[str, Any]:
    """The booking transaction in raw SQL at `connections` clients: the database's ceiling."""
    binary = pgbench_binary()
    if binary is None:
        raise SystemExit("pgbench not found")
    fixture.reset(conn)
    pairs = fixture.spread_pairs(conn, limit=int(settings.duration * 20_000), rng=rng)
    load_pairs(conn, pairs)
    before = count_bookings(conn)
    for old in workdir.glob("pgbench_log*"):
        old.unlink()
    duration = max(1, round(settings.duration))
    command = [
        binary,
        "--no-vacuum",
        "--protocol=prepared",
        f"--client={connections}",
        f"--jobs={min(connections, 2)}",
        f"--time={duration}",
        f"--file={PGBENCH_SCRIPT}",
        f"--define=nclients={connections}",
        "--define=iter=0",
        f"--define=max_active={fixture.max_active_bookings()}",
        "--log",
        f"--log-prefix={workdir / 'pgbench_log'}",
        url,
    ]
    measured: dict[str, Any] = {}
    with cpu_meter(set(), measured):
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pgbench failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    latencies = []
    for path in workdir.glob("pgbench_log*"):
        for line in path.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2].isdigit():
                latencies.append(int(fields[2]))
    latencies.sort()
    tps = next(
        float(line.split("=")[1].split()[0])
        for line in done.stdout.splitlines()
        if line.startswith("tps") and "without initial connection time" in line
    )
    after = count_bookings(conn)

    def pct(fraction: float) -> float:
        return latencies[min(len(latencies) - 1, int(fraction * len(latencies)))] / 1000

    result = {
        "connections": connections,
        "tps": round(tps, 1),
        "transactions": len(latencies),
        "bookings_inserted": after - before,
        "pairs_available": len(pairs),
        "p50_ms": round(pct(0.50), 2),
        "p99_ms": round(pct(0.99), 2),
        "max_ms": round(latencies[-1] / 1000, 2) if latencies else 0.0,
        **measured,
    }
    result["invariants"] = fixture.check_invariants(conn)
    return result


# PROFILE ----------------------------------------------------------------------------------------
def run_profile(settings: Settings, url: str) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "bench.profile_booking", str(settings.profile_requests)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        log(f"profile failed:\n{done.stdout}\n{done.stderr}")
        return {"error": done.stderr[-2000:]}
    return json.loads(done.stdout)


def run_limiter_cost() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.limiter_cost"], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        log(f"limiter cost failed:\n{done.stdout}\n{done.stderr}")
        return {"error": done.stderr[-2000:]}
    return dict(json.loads(done.stdout))


# REPORT -----------------------------------------------------------------------------------------
def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def machine() -> dict[str, Any]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model,
        "memory_gib": memory_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def loadavg() -> list[float]:
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def fmt_statuses(statuses: dict[str, int]) -> str:
    return " ".join(f"{s}:{n}" for s, n in sorted(statuses.items())) or "-"


def _max_rss(run: dict[str, Any]) -> str:
    peaks = run.get("worker_peak_rss_mb") or []
    return f"{max(peaks):.0f}" if peaks else ""


RATIO = "\N{MULTIPLICATION SIGN}"  # the A/B column: this tree's req/s over the baseline's


def header(report: dict[str, Any]) -> list[str]:
    """The table's columns; the A/B mode adds the baseline's figures and the ratio."""
    ab = bool(report.get("baseline"))
    return [
        "scenario",
        "conns",
        "req/s",
        *(["base req/s", RATIO] if ab else []),
        "p50 ms",
        "p99 ms",
        *(["base p99"] if ab else []),
        "max ms",
        "peak RSS/worker MB",
        *(["base RSS/worker MB"] if ab else []),
        "statuses",
        "vs DB",
        "cores used",
    ]


def table_rows(report: dict[str, Any]) -> list[list[str]]:
    ceiling = {p["connections"]: p["tps"] for p in report.get("pgbench", [])}
    ab = bool(report.get("baseline"))
    rows = []
    for r in report["runs"]:
        lat = r["latency_us"]
        errors = sum(r["socket_errors"].values())
        vs_db = ""
        if r["scenario"] == "book-spread" and ceiling.get(r["connections"]):
            vs_db = f"{r['rps'] / ceiling[r['connections']]:.0%}"
        cpu = r.get("cpu_cores_used", {})
        base = r.get("baseline")
        base_rps = base_ratio = base_p99 = base_rss = ""
        if base:
            base_rps = f"{base['rps']:.0f}"
            base_ratio = f"{r['rps'] / base['rps']:.2f}" if base["rps"] else ""
            base_p99 = f"{base['latency_us']['p99'] / 1000:.1f}"
            base_rss = _max_rss(base)
        rows.append(
            [
                r["scenario"],
                str(r["connections"]),
                f"{r['rps']:.0f}",
                *([base_rps, base_ratio] if ab else []),
                f"{lat['p50'] / 1000:.1f}",
                f"{lat['p99'] / 1000:.1f}",
                *([base_p99] if ab else []),
                f"{lat['max'] / 1000:.1f}",
                _max_rss(r),
                *([base_rss] if ab else []),
                fmt_statuses(r["statuses"]) + (f" sock-err:{errors}" if errors else ""),
                vs_db,
                " ".join(f"{k}={v:.2f}" for k, v in cpu.items()),
            ]
        )
    for p in report.get("pgbench", []):
        rows.append(
            [
                "pgbench-booking",
                str(p["connections"]),
                f"{p['tps']:.0f}",
                *(["", ""] if ab else []),
                f"{p['p50_ms']:.1f}",
                f"{p['p99_ms']:.1f}",
                *([""] if ab else []),
                f"{p['max_ms']:.1f}",
                "",
                *([""] if ab else []),
                f"inserted:{p['bookings_inserted']} of {p['transactions']} tx",
                "100%",
                " ".join(f"{k}={v:.2f}" for k, v in p.get("cpu_cores_used", {}).items()),
            ]
        )
    return rows


def text_table(columns: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(columns, *rows, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def baseline_lines(report: dict[str, Any]) -> list[str]:
    base = report.get("baseline")
    if not base:
        return []
    only_current = sorted(
        {r["scenario"] for r in report["runs"] if "baseline" not in r}
        | ({"pgbench-booking"} if report.get("pgbench") else set())
    )
    size = (
        "the same size"
        if same_size(base["fixture_counts"], report["fixture_counts"])
        else f"**a different size**: {base['fixture_counts']}"
    )
    return [
        f"A/B: every (scenario, connections) ran first against the baseline `{base['commit']}` "
        f"({base['subject']}), then against this tree, one after the other, each against its "
        f"own database. *base req/s*, *base p99*, *base RSS/worker MB*: the baseline's figures; "
        f"*{RATIO}*: this tree's req/s over the baseline's. The baseline ran from "
        f"`{base['root']}` with {base['python']}, its own migrations, seed, scenarios and "
        f"checks, database `{base['fixture']['database']}` "
        f"({size}), "
        f"Redis `{base['redis_url']}`.",
        "",
        f"Baseline server: `{base.get('server_command', '')}`",
        "",
        *(
            [
                f"Rounds: each (scenario, connections) ran {report['rounds']} times on each side, "
                "the baseline first in odd rounds and second in even ones; each side's row is its "
                "median run by req/s, every round's req/s is in *rounds* below.",
                "",
                *(
                    f"- {r['scenario']} @{r['connections']}: this tree {r.get('rounds_rps')}, "
                    f"baseline {r['baseline'].get('rounds_rps')}"
                    for r in report["runs"]
                    if r.get("baseline") and r.get("rounds_rps")
                ),
                "",
            ]
            if report.get("rounds", 1) > 1
            else []
        ),
        *(
            [f"This tree only (the baseline has no such scenario): {', '.join(only_current)}.", ""]
            if only_current
            else []
        ),
    ]


def markdown(report: dict[str, Any]) -> str:
    rows = table_rows(report)
    columns = header(report)
    base = report.get("baseline")
    against = f" against the baseline `{base['commit'][:10]}`" if base else ""
    out = [
        f"# make bench: {report['finished_at']}",
        "",
        f"Commit `{report['commit']}`{' (with uncommitted changes)' if report['dirty'] else ''}"
        f"{against}, "
        f"{report['machine']['cores']} cores ({report['machine']['cpu']}), "
        f"{report['machine']['memory_gib']} GiB; load generator `{report['loadgen']}`; "
        f"{report['duration_s']:.0f} s per run; load average before/after "
        f"{report['loadavg_before']} / {report['loadavg_after']}.",
        "",
        f"Server: `{report['server_command']}`",
        "",
        f"Database `{report['fixture']['database']}`: {report['fixture_counts']}.",
        "",
        *baseline_lines(report),
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        "*vs DB*: book-spread requests/s as a share of pgbench running the same booking "
        "transaction in raw SQL at the same client count. *peak RSS/worker MB*: the largest peak "
        "resident memory (VmHWM, reset before the run) of the server's gunicorn workers during "
        "the run. *cores used*: CPU of gunicorn (app), PostgreSQL (db), the load generator and "
        "everything else, in cores, during the run.",
        "",
    ]
    out += [
        f"The bench servers raise BOOKING_RATE_LIMIT to {BENCH_RATE_LIMIT:,} bookings per user "
        "and window (book-spread-bare: off), so no booking scenario is throttled.",
        "",
        *overhead_lines(report),
    ]
    problems = report["problems"]
    out.append("Invariants and checks: " + ("all hold." if not problems else "**BROKEN**"))
    out += [f"- {p}" for p in problems]
    profile = report.get("profile", {})
    if profile.get("queries_per_booking") is not None:
        out += [
            "",
            f"Profile: {profile['requests']} bookings through Django's test client, "
            f"{profile['ms_per_request']:.2f} ms each, {profile['queries_per_booking']} SQL "
            "queries per booking; see profile-booking.html / .txt.",
        ]
    return "\n".join(out) + "\n"


def overhead_lines(report: dict[str, Any]) -> list[str]:
    """book-spread (rate limiter and metrics on) against book-spread-bare (both off)."""
    on = {r["connections"]: r for r in report["runs"] if r["scenario"] == "book-spread"}
    off = {r["connections"]: r for r in report["runs"] if r["scenario"] == "book-spread-bare"}
    lines = []
    for connections in sorted(set(on) & set(off)):
        a, b = on[connections], off[connections]
        p50 = (a["latency_us"]["p50"] - b["latency_us"]["p50"]) / 1000
        change = a["rps"] / b["rps"] - 1 if b["rps"] else 0.0
        lines.append(
            f"- {connections} connection(s): {a['rps']:.0f} req/s with both on, {b['rps']:.0f} "
            f"with both off ({change:+.1%}); p50 {p50:+.2f} ms per request"
        )
    cost = report.get("limiter_metrics_cost", {})
    timed = []
    if "rate_limiter" in cost:
        limiter, samples = cost["rate_limiter"], cost["metrics_per_request"]
        timed = [
            f"- in-process, {cost['requests']} requests: the rate limiter takes "
            f"{limiter['p50_us'] / 1000:.2f} ms at the median (p99 {limiter['p99_us'] / 1000:.2f} "
            f"ms, one Redis round trip), a booking request's metric samples "
            f"{samples['p50_us'] / 1000:.3f} ms (p99 {samples['p99_us'] / 1000:.3f} ms)"
        ]
    if not lines and not timed:
        return []
    return [
        "Cost of the rate limiter and the metrics per booking request (over HTTP: book-spread "
        "with both on against book-spread-bare with both off, in this run):",
        *lines,
        *timed,
        "",
    ]


def write_report(settings: Settings, report: dict[str, Any]) -> Path:
    folder = RESULTS / "experiments" if settings.label else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    stem = settings.label or "latest"
    body = json.dumps(report, indent=2) + "\n"
    (folder / f"{stem}.json").write_text(body)
    (folder / f"{stem}.md").write_text(markdown(report))
    if not settings.label:
        history = RESULTS / "history"
        history.mkdir(exist_ok=True)
        stamp = report["finished_at"].replace(":", "").replace("-", "")
        (history / f"{stamp}-{report['commit'][:10]}.json").write_text(body)
    return folder / f"{stem}.md"


# A/B --------------------------------------------------------------------------------------------
def setup_baseline(settings: Settings, url: str, report: dict[str, Any]) -> Baseline:
    """BENCH_BASELINE's checkout, python and database, seeded with this run's sizes."""
    from devserver import embedded

    config = fixture.SeedConfig.from_env()
    baseline = Baseline(settings.baseline, current_url=url, data_dir=embedded.data_dir())
    found = baseline.setup(reseed=settings.reseed, config=config)
    if found["broken"]:
        raise SystemExit(f"the baseline's invariants are broken before the run: {found['broken']}")
    if found["deleted"]:
        log(f"deleted {found['deleted']} bookings of an earlier run in the baseline's database")
    if not same_size(found["counts"], report["fixture_counts"]):
        log(
            f"the two databases differ in size: baseline {found['counts']}, "
            f"current {report['fixture_counts']}"
        )
    report["baseline"] = {
        "commit": baseline.sha,
        "subject": baseline.subject,
        "root": str(baseline.root),
        "python": ("the current venv" if baseline.python == sys.executable else baseline.python),
        "redis_url": baseline.redis_url,
        "fixture": found["fixture"],
        "fixture_counts": found["counts"],
        "scenarios": sorted(baseline.scenarios),
    }
    missing = [s.name for s in settings.scenarios if s.name not in baseline.scenarios]
    if missing:
        log(f"the baseline has no {', '.join(missing)}: this tree only, no ratio")
    return baseline


def same_size(ours: dict[str, int], theirs: dict[str, int]) -> bool:
    # The counts both trees' fixture_counts() report. Users are left out: the staff user of the
    # analytics scenario is one more in a database that an earlier run has used.
    common = (set(ours) & set(theirs)) - {"users"}
    return all(ours[k] == theirs[k] for k in common)


def baseline_server(
    settings: Settings, baseline: Baseline, env: dict[str, str], workdir: Path
) -> Server:
    """The baseline's gunicorn (and queued-mode workers) on its database and Redis database."""
    return Server(
        settings,
        baseline.url,
        {"REDIS_URL": baseline.redis_url, **env},
        workdir / "gunicorn-baseline.log",
        root=baseline.root,
        python=baseline.python,
    )


def baseline_requests(
    baseline: Baseline,
    scenario: str,
    connections: int,
    settings: Settings,
    workdir: Path,
    limit: int | None = None,
) -> list[Request]:
    built = baseline.build(
        scenario,
        connections,
        seed=f"{settings.seed}:{scenario}:{connections}",
        duration=settings.duration,
        out=workdir / "baseline-requests.json",
        limit=limit,
        reset=limit is None,
    )
    return [
        Request(r["method"], r["path"], dict(r.get("headers") or {}), r.get("body") or "")
        for r in built
    ]


def run_baseline(
    settings: Settings,
    baseline: Baseline,
    server: Server,
    scenario: BaselineScenario,
    connections: int,
    workdir: Path,
    report: dict[str, Any],
    *,
    min_duration: float,
) -> dict[str, Any]:
    """One (scenario, connections) run against the baseline: its own reset, requests, check and
    invariants, in its own database."""
    requests = baseline_requests(baseline, scenario.name, connections, settings, workdir)
    log(
        f"baseline {baseline.short}: {scenario.name} at {connections} connections "
        f"({len(requests)} inputs)"
    )
    result = drive(settings, server, requests, connections, workdir, min_duration=min_duration)
    result.update(scenario=scenario.name, connections=connections)
    checked = baseline.after(scenario.name, result["statuses"])
    problem = checked.get("problem") or ""
    if any(result["socket_errors"].values()):
        problem = f"{problem} socket errors {result['socket_errors']}".strip()
    if "invariants" in checked:
        result["invariants"] = checked["invariants"]
        for name, rows in checked["invariants"].items():
            report["problems"].append(f"baseline {scenario.name}@{connections}: {name}: {rows}")
    if problem:
        report["problems"].append(f"baseline {scenario.name}@{connections}: {problem}")
    label = {**result, "scenario": f"{scenario.name} [baseline]"}
    sys.stderr.write(text_table(header({}), table_rows({"runs": [label]})[-1:]) + "\n")
    return result


def run_scenario(
    settings: Settings,
    server: Server,
    scenario: Scenario,
    connections: int,
    ctx: Context,
    conn: Any,
    workdir: Path,
    report: dict[str, Any],
    *,
    min_duration: float,
) -> dict[str, Any]:
    """One (scenario, connections) run against this tree: reset, requests, checks, invariants."""
    if scenario.writes:
        fixture.reset(conn)
    requests = scenario.build(ctx, connections)
    log(f"{scenario.name} at {connections} connections ({len(requests)} inputs)")
    result = drive(settings, server, requests, connections, workdir, min_duration=min_duration)
    result.update(scenario=scenario.name, connections=connections)
    problem = scenario.check(result["statuses"]) if scenario.check else ""
    if any(result["socket_errors"].values()):
        problem = f"{problem} socket errors {result['socket_errors']}".strip()
    if scenario.writes:
        result["invariants"] = fixture.check_invariants(conn)
        for name, rows in result["invariants"].items():
            report["problems"].append(f"{scenario.name}@{connections}: {name}: {rows}")
    if problem:
        report["problems"].append(f"{scenario.name}@{connections}: {problem}")
    return result


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median requests/s (the lower middle one of an even count), with every
    round's requests/s beside it."""
    chosen = dict(sorted(runs, key=lambda r: r["rps"])[(len(runs) - 1) // 2])
    if len(runs) > 1:
        chosen["rounds_rps"] = [round(r["rps"], 1) for r in runs]
    return chosen


# MAIN -------------------------------------------------------------------------------------------
def main() -> int:
    settings = Settings()
    url = fixture.bench_database_url()
    started = datetime.now(UTC)
    report: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "machine": machine(),
        "loadavg_before": loadavg(),
        "loadgen": settings.loadgen,
        "duration_s": settings.duration,
        "connections": settings.connections,
        "workers": settings.workers,
        "rounds": settings.rounds if settings.baseline else 1,
        "runs": [],
        "pgbench": [],
        "problems": [],
    }
    report["fixture"] = fixture.ensure_database(
        url, reseed=settings.reseed, config=fixture.SeedConfig.from_env()
    )
    conn = connect(url)
    conn.execute("SET application_name = 'bench-runner'")
    deleted = fixture.reset(conn)
    if deleted:
        log(f"deleted {deleted} bookings left by an earlier run")
    conn.execute("VACUUM (ANALYZE) slots, bookings")
    report["fixture_counts"] = fixture.fixture_counts(conn)
    version = conn.execute("SHOW server_version").fetchone()
    report["postgres"] = version[0] if version else ""
    broken = fixture.check_invariants(conn)
    if broken:
        raise SystemExit(f"invariants are broken before the run: {broken}")
    staff = fixture.manage(
        "create_staff",
        "--email",
        "bench-staff@bench.example",
        "--name",
        "Bench Staff",
        url=url,
        capture=True,
    )
    token = next(
        line.split(":", 1)[1].strip() for line in staff.splitlines() if "API token" in line
    )
    rng = random.Random(settings.seed)
    ctx = Context(conn=conn, rng=rng, duration=settings.duration, staff_token=token)
    workdir = Path(tempfile.mkdtemp(prefix="slotbooking-bench-"))
    server_log = workdir / "gunicorn.log"
    log(f"work files in {workdir}")

    baseline = setup_baseline(settings, url, report) if settings.baseline else None

    by_env: dict[tuple[tuple[str, str], ...], list[Scenario]] = {}
    for scenario in settings.scenarios:
        by_env.setdefault(tuple(sorted(scenario.server_env.items())), []).append(scenario)
    for env_items, scenarios in by_env.items():
        server = Server(settings, url, dict(env_items), server_log)
        report["server_command"] = " ".join(
            [*(f"{k}={v}" for k, v in env_items), "gunicorn", *server.command[1:]]
        )
        limit = dict(env_items).get("BOOKING_RATE_LIMIT", BENCH_SERVER_ENV["BOOKING_RATE_LIMIT"])
        log(
            "rate limiting off for this server"
            if limit == "0"
            else f"rate limit raised to {int(limit):,} bookings per user and window for the bench"
        )
        # A/B: the baseline's servers for the scenarios it has, each with the baseline's own
        # environment for that scenario, up beside this tree's so the two runs alternate.
        base_servers: dict[tuple[tuple[str, str], ...], Server] = {}
        if baseline:
            for scenario in scenarios:
                theirs = baseline.scenarios.get(scenario.name)
                key = tuple(sorted(theirs.server_env.items())) if theirs else ()
                if theirs and key not in base_servers:
                    base_servers[key] = baseline_server(settings, baseline, dict(key), workdir)
                    report["baseline"]["server_command"] = " ".join(
                        [*(f"{k}={v}" for k, v in key), "gunicorn", *base_servers[key].command[1:]]
                    )
        try:
            server.start()
            for base_server in base_servers.values():
                base_server.start()
            warmup = [r for s in SCENARIOS if s.name == "get-slot" for r in s.build(ctx, 16)]
            drive(settings, server, warmup[:2000], 16, workdir)  # connections open, code warm
            if baseline and "get-slot" in baseline.scenarios:
                base_warmup = baseline_requests(baseline, "get-slot", 16, settings, workdir, 2000)
                for base_server in base_servers.values():
                    drive(settings, base_server, base_warmup, 16, workdir)
            for scenario in scenarios:
                theirs = baseline.scenarios.get(scenario.name) if baseline else None
                min_duration = max(scenario.min_duration, theirs.min_duration if theirs else 0)
                for connections in scenario.connections or settings.connections:
                    ab = bool(
                        baseline and theirs and connections in (theirs.connections or [connections])
                    )

                    run_current = partial(
                        run_scenario,
                        settings,
                        server,
                        scenario,
                        connections,
                        ctx,
                        conn,
                        workdir,
                        report,
                        min_duration=min_duration,
                    )
                    run_base = (
                        partial(
                            run_baseline,
                            settings,
                            baseline,
                            base_servers[tuple(sorted(theirs.server_env.items()))],
                            theirs,
                            connections,
                            workdir,
                            report,
                            min_duration=min_duration,
                        )
                        if ab and baseline is not None and theirs is not None
                        else None
                    )

                    # Each round runs both trees, the baseline first in odd rounds and last in
                    # even ones, so a drift of the machine's speed weighs on both alike.
                    base_runs: list[dict[str, Any]] = []
                    runs: list[dict[str, Any]] = []
                    for round_number in range(settings.rounds if run_base else 1):
                        if run_base and round_number % 2 == 0:
                            base_runs.append(run_base())
                        runs.append(run_current())
                        if run_base and round_number % 2 == 1:
                            base_runs.append(run_base())
                    result = median_run(runs)
                    if base_runs:
                        result["baseline"] = median_run(base_runs)
                    report["runs"].append(result)
                    row = table_rows({"runs": [result], "baseline": report.get("baseline")})[-1]
                    sys.stderr.write(text_table(header(report), [row]) + "\n")
        finally:
            server.stop()
            for base_server in base_servers.values():
                base_server.stop()
    fixture.reset(conn)
    if baseline:
        final = baseline.final()
        for name, rows in final["broken"].items():
            report["problems"].append(f"baseline after the run: {name}: {rows}")

    log("timing the rate limiter and the metrics in-process (bench/limiter_cost.py)")
    report["limiter_metrics_cost"] = run_limiter_cost()

    if settings.pgbench and pgbench_binary():
        for connections in settings.connections:
            log(f"pgbench booking transaction at {connections} clients")
            result = run_pgbench(settings, url, connections, conn, rng, workdir)
            for name, rows in result["invariants"].items():
                report["problems"].append(f"pgbench@{connections}: {name}: {rows}")
            report["pgbench"].append(result)
        fixture.reset(conn)
    elif settings.pgbench:
        log("pgbench not found: no database ceiling in this report")

    if settings.profile_requests > 0:
        log(f"profiling {settings.profile_requests} booking requests (pyinstrument)")
        report["profile"] = run_profile(settings, url)
        fixture.reset(conn)

    final = fixture.check_invariants(conn)
    for name, rows in final.items():
        report["problems"].append(f"after the run: {name}: {rows}")
    report["loadavg_after"] = loadavg()
    report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    conn.close()

    path = write_report(settings, report)
    sys.stdout.write("\n" + text_table(header(report), table_rows(report)) + "\n\n")
    sys.stdout.write(
        f"The bench servers raise BOOKING_RATE_LIMIT to {BENCH_RATE_LIMIT:,} (book-spread-bare: "
        "off), so no booking scenario is throttled.\n"
    )
    sys.stdout.write("".join(f"{line}\n" for line in overhead_lines(report)))
    if report["problems"]:
        sys.stdout.write("PROBLEMS:\n" + "\n".join(f"  {p}" for p in report["problems"]) + "\n")
    sys.stdout.write(f"Written {path} and {path.with_suffix('.json')}\n")
    shutil.rmtree(workdir, ignore_errors=True)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
