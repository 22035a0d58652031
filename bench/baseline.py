"""The A/B mode of `make bench`: BENCH_BASELINE=<git rev> runs the same scenarios against a
checkout of that revision too, in the same run, alternating with the current tree.

The baseline is measured by its own code, so that a schema or a fixture that changed since does
not bend the comparison:

- its checkout: `git archive <sha>` into $SLOTBOOKING_DATA_DIR/bench-baseline/<sha>, kept for
  the next run (an archive, not a `git worktree`: nothing is registered in the repository);
- its Python: the current .venv when every pin of the baseline's requirements.txt is installed
  there at that version, otherwise a venv of its own in the checkout, from its requirements.txt;
- its database: slotbooking_bench_<short sha> on the same PostgreSQL server, migrated by its
  manage.py and seeded by its bench/fixture.py and bench/seed.sql, with the sizes the current
  run uses (BENCH_USERS, BENCH_HOSTS, BENCH_*_SLOTS_PER_HOST, passed by environment);
- its requests, resets and invariant checks: its bench/scenarios.py and bench/fixture.py, called
  in a subprocess (AGENT below) with the checkout as working directory;
- its servers: its gunicorn with its slotbooking/gunicorn_conf.py and, in queued mode, its
  `manage.py run_booking_workers`, on a Redis database number of its own
  (BENCH_BASELINE_REDIS_DB), so its queues, results and cache never mix with the current tree's.

Only the load generator (wrk or bench/loadgen.py) is the current tree's, for both sides.
"""

# ruff: noqa: S603, S607  # runs git, tar, pip and the baseline's own python with fixed arguments

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, fields
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.fixture import ROOT, SeedConfig, log, with_database

# How the current SeedConfig's sizes are spelled in the environment that both trees read.
SIZE_KNOBS = {
    "users": "BENCH_USERS",
    "hosts": "BENCH_HOSTS",
    "future_per_host": "BENCH_FUTURE_SLOTS_PER_HOST",
    "past_per_host": "BENCH_PAST_SLOTS_PER_HOST",
}

# Runs inside the baseline checkout with its python: `python -c AGENT <op> <json arguments>`.
# It uses only what the baseline's own bench/run.py uses of its bench package, and prints one
# JSON object on stdout (its logs go to stderr, as the baseline's bench writes them).
AGENT = r"""
import dataclasses, json, random, sys
from bench import fixture, scenarios

op, args = sys.argv[1], json.loads(sys.argv[2])
by_name = {s.name: s for s in scenarios.SCENARIOS}
out = {}
if op == "setup":
    out["fixture"] = fixture.ensure_database(
        args["url"], reseed=args["reseed"], config=fixture.SeedConfig.from_env())
    conn = fixture.connect(args["url"])
    out["deleted"] = fixture.reset(conn)
    conn.execute("VACUUM (ANALYZE) slots, bookings")
    out["counts"] = fixture.fixture_counts(conn)
    out["broken"] = fixture.check_invariants(conn)
    version = conn.execute("SHOW server_version").fetchone()
    out["postgres"] = version[0] if version else ""
    staff = fixture.manage("create_staff", "--email", "bench-staff@bench.example",
                           "--name", "Bench Staff", url=args["url"], capture=True)
    out["staff_token"] = next(line.split(":", 1)[1].strip()
                              for line in staff.splitlines() if "API token" in line)
    out["scenarios"] = [
        {"name": s.name, "writes": s.writes, "server_env": dict(s.server_env),
         "connections": list(getattr(s, "connections", ()) or ()),
         "min_duration": float(getattr(s, "min_duration", 0) or 0)}
        for s in scenarios.SCENARIOS]
elif op == "build":
    scenario = by_name[args["scenario"]]
    conn = fixture.connect(args["url"])
    if scenario.writes and args["reset"]:
        fixture.reset(conn)
    ctx = scenarios.Context(conn=conn, rng=random.Random(args["seed"]),
                            duration=args["duration"], staff_token=args["staff_token"])
    requests = scenario.build(ctx, args["connections"])[: args.get("limit") or None]
    with open(args["out"], "w") as f:
        json.dump([dataclasses.asdict(r) for r in requests], f)
    out["count"] = len(requests)
elif op == "after":
    scenario = by_name[args["scenario"]]
    out["problem"] = scenario.check(args["statuses"]) if scenario.check else ""
    if scenario.writes:
        out["invariants"] = fixture.check_invariants(fixture.connect(args["url"]))
elif op == "final":
    conn = fixture.connect(args["url"])
    out["deleted"] = fixture.reset(conn)
    out["broken"] = fixture.check_invariants(conn)
print(json.dumps(out))
"""


@dataclass(frozen=True)
class BaselineScenario:
    name: str
    writes: bool
    server_env: dict[str, str]
    connections: tuple[int, ...]
    min_duration: float


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def with_redis_db(url: str, number: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{number}", parts.query, parts.fragment))


def redis_db(url: str) -> int:
    path = urlsplit(url).path.strip("/")
    return int(path) if path.isdigit() else 0


def current_redis_url() -> str:
    """REDIS_URL, or the embedded server's, as the current tree's settings resolve it."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    from devserver import embedded

    return embedded.redis_url()


def checkout(sha: str, data_dir: Path) -> Path:
    """The baseline's files at $SLOTBOOKING_DATA_DIR/bench-baseline/<sha>, extracted once."""
    target = data_dir / "bench-baseline" / sha
    if (target / ".bench-complete").exists():
        log(f"baseline checkout {target} (reused)")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(target, ignore_errors=True)  # a half-extracted one from an interrupted run
    staging = Path(tempfile.mkdtemp(prefix=f".{sha[:10]}-", dir=target.parent))
    archive = subprocess.Popen(["git", "archive", "--format=tar", sha], cwd=ROOT, stdout=-1)
    subprocess.run(["tar", "-x", "-C", str(staging)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise SystemExit(f"git archive {sha} failed")
    _check_foreign_keys_per_statement(staging / "bench" / "seed.sql")
    (staging / ".bench-complete").write_text(sha + "\n")
    staging.rename(target)
    log(f"baseline checkout {target} (git archive {sha[:10]})")
    return target


def _check_foreign_keys_per_statement(seed_sql: Path) -> None:
    """Older seed scripts leave the foreign keys deferred to COMMIT: at a million bookings every
    trigger call then walks a growing queue of pending checks and seeding takes hours. Checking
    them per statement gives the same rows; only the bench's own seed script changes, never the
    baseline's application code."""
    if not seed_sql.exists():
        return
    text = seed_sql.read_text()
    if "SET CONSTRAINTS ALL IMMEDIATE" not in text:
        seed_sql.write_text("SET CONSTRAINTS ALL IMMEDIATE;\n" + text)


def _pins(requirements: Path) -> dict[str, str]:
    """name -> version of every `name==version` line (plain or hashed lock file)."""
    pins = {}
    for line in requirements.read_text().splitlines():
        found = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)", line)
        if found:
            pins[found.group(1).lower()] = found.group(3)
    return pins


def _mismatches(pins: dict[str, str]) -> list[str]:
    """The pins the running interpreter (the current .venv) does not satisfy."""
    wrong = []
    for name, version in sorted(pins.items()):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name}=={version} (missing)")
            continue
        if installed != version:
            wrong.append(f"{name}=={version} (have {installed})")
    return wrong


def python_for(root: Path) -> str:
    """The current venv's python when it has the baseline's runtime pins, else a venv of its own."""
    requirements = root / "requirements.txt"
    pins = _pins(requirements) if requirements.exists() else {}
    wrong = _mismatches(pins)
    if not wrong:
        log(
            f"baseline python: the current venv ({sys.executable}); it has all "
            f"{len(pins)} pins of the baseline's requirements.txt"
        )
        return sys.executable
    venv = root / ".venv"
    python = venv / "bin" / "python"
    if not (venv / ".bench-installed").exists():
        log(
            f"baseline python: a venv of its own in {venv}, because the current one lacks "
            f"{', '.join(wrong[:5])}{' …' if len(wrong) > 5 else ''}"
        )
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        hashed = "--hash=" in requirements.read_text()
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *(["--require-hashes"] if hashed else []),
                "-r",
                str(requirements),
            ],
            check=True,
        )
        (venv / ".bench-installed").touch()
    else:
        log(f"baseline python: its own venv {venv} (reused)")
    return str(python)


class Baseline:
    """One revision's checkout, python, bench database and Redis database."""

    def __init__(self, rev: str, *, current_url: str, data_dir: Path) -> None:
        self.sha = git("rev-parse", "--verify", f"{rev}^{{commit}}")
        self.short = self.sha[:10]
        self.subject = git("log", "-1", "--format=%s", self.sha)
        self.root = checkout(self.sha, data_dir)
        self.python = python_for(self.root)
        self.url = with_database(current_url, f"slotbooking_bench_{self.short}")
        current_redis = current_redis_url()
        default_db = (redis_db(current_redis) + 1) % 16
        self.redis_url = with_redis_db(
            current_redis, int(os.environ.get("BENCH_BASELINE_REDIS_DB") or default_db)
        )
        self.scenarios: dict[str, BaselineScenario] = {}
        self.staff_token = ""
        log(
            f"baseline {self.short} ({self.subject}): database {self.url.rsplit('/', 1)[-1]}, "
            f"Redis {self.redis_url}"
        )

    def env(self, config: SeedConfig | None = None) -> dict[str, str]:
        env = {**os.environ, "DATABASE_URL": self.url, "REDIS_URL": self.redis_url}
        env.pop("BENCH_DATABASE_URL", None)  # the current tree's; the agent is given self.url
        if config is not None:
            for field, name in SIZE_KNOBS.items():
                env[name] = str(getattr(config, field))
        return env

    def agent(self, op: str, config: SeedConfig | None = None, **args: Any) -> dict[str, Any]:
        done = subprocess.run(
            [self.python, "-c", AGENT, op, json.dumps({"url": self.url, **args})],
            cwd=self.root,
            env=self.env(config),
            stdout=subprocess.PIPE,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"the baseline's bench ({op}) failed with exit code {done.returncode}")
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))

    def setup(self, *, reseed: bool, config: SeedConfig) -> dict[str, Any]:
        """Migrate and seed its database by its own code (sizes from `config`), collect its static
        files as its `make bench` does, and learn its scenarios; return what setup reported."""
        unknown = {f.name for f in fields(config)} - set(SIZE_KNOBS)
        if unknown:
            log(f"the baseline cannot be told the current seed sizes {sorted(unknown)}")
        if not (self.root / "staticfiles").exists():
            subprocess.run(
                [self.python, "manage.py", "collectstatic", "--noinput", "-v", "0"],
                cwd=self.root,
                env=self.env(),
                check=True,
            )
        found = self.agent("setup", config, reseed=reseed)
        self.staff_token = found["staff_token"]
        self.scenarios = {
            s["name"]: BaselineScenario(
                name=s["name"],
                writes=s["writes"],
                server_env=s["server_env"],
                connections=tuple(s["connections"]),
                min_duration=s["min_duration"],
            )
            for s in found["scenarios"]
        }
        return found

    def build(
        self, scenario: str, connections: int, *, seed: str, duration: float, out: Path, **more: Any
    ) -> list[dict[str, Any]]:
        """Its requests for one run (after resetting its bookings when the scenario writes)."""
        self.agent(
            "build",
            scenario=scenario,
            connections=connections,
            seed=seed,
            duration=duration,
            staff_token=self.staff_token,
            out=str(out),
            reset=more.get("reset", True),
            limit=more.get("limit"),
        )
        return list(json.loads(out.read_text()))

    def after(self, scenario: str, statuses: dict[str, int]) -> dict[str, Any]:
        """Its own check of the answers, and its invariants when the scenario writes."""
        return self.agent("after", scenario=scenario, statuses=statuses)

    def final(self) -> dict[str, Any]:
        return self.agent("final")
