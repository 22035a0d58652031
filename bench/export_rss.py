"""`make bench-export`: the server's peak memory while GET /api/admin/bookings.csv streams.

    make bench-export                 # about 200k bookings; BENCH_EXPORT_RESEED=1 rebuilds them

Seeds its own database (slotbooking_export_bench, never the dev or the `make bench` one) with
bench/seed.sql sized for about 200,000 bookings, starts gunicorn with one worker on a free port,
and downloads the CSV of a small range and then of every booking, reading the stream as a client
would. A sampler reads the worker's resident memory (VmRSS) every 20 ms; the kernel's high-water
mark (VmHWM, reset before each download) gives the exact peak. A flat export has the same peak
for 5% of the rows as for all of them. Writes bench/results/export-rss.{json,md}.
"""

# ruff: noqa: S310, S603  # downloads from our own server on 127.0.0.1; runs our own gunicorn

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import fixture
from bench.fixture import ROOT, app_database_url, connect, log, with_database
from bench.run import free_port, loadavg

DB = "slotbooking_export_bench"
# 1,000 hosts x 230 past slots, 90% of them booked: about 207,000 bookings.
CONFIG = fixture.SeedConfig(users=20_000, hosts=1_000, future_per_host=10, past_per_host=230)
SAMPLE_SECONDS = 0.02
READ_BYTES = 64 * 1024
RESULTS = fixture.RESULTS_DIR


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def _worker_pid(master: int) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            if int(text[text.rindex(")") + 2 :].split()[1]) == master:
                return int(stat.parent.name)
        time.sleep(0.1)
    raise SystemExit("gunicorn started no worker")


def download(url: str, token: str, pid: int) -> dict[str, Any]:
    """Read the whole CSV while sampling the worker's RSS; the peak comes from VmHWM."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the high-water mark to now
    before = _status_kib(pid, "VmRSS")
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(_status_kib(pid, "VmRSS"))
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample)
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    started = time.monotonic()
    sampler.start()
    size = lines = 0
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            status = response.status
            while chunk := response.read(READ_BYTES):
                size += len(chunk)
                lines += chunk.count(b"\r\n")
    finally:
        done.set()
        sampler.join()
    seconds = time.monotonic() - started
    return {
        "status": status,
        "rows": lines - 1,  # the header is not a booking
        "megabytes": round(size / 2**20, 1),
        "seconds": round(seconds, 2),
        "rows_per_second": round((lines - 1) / seconds) if seconds else 0,
        "rss_before_mib": round(before / 1024, 1),
        "rss_peak_mib": round(_status_kib(pid, "VmHWM") / 1024, 1),
        "rss_sampled_max_mib": round(max(samples, default=before) / 1024, 1),
        "rss_after_mib": round(_status_kib(pid, "VmRSS") / 1024, 1),
    }


def main() -> int:
    url = with_database(app_database_url(), DB)
    reseed = (os.environ.get("BENCH_EXPORT_RESEED") or "0").lower() in ("1", "true", "yes")
    marker = fixture.ensure_database(url, reseed=reseed, config=CONFIG)
    with connect(url) as conn:
        row = conn.execute("SELECT count(*), min(created_at), max(created_at) FROM bookings")
        total, first, last = row.fetchone() or (0, None, None)
    log(f"{total} bookings created from {first} to {last}")
    staff = fixture.manage(
        "create_staff", "--email", "export-staff@bench.example", "--name", "Export Staff",
        url=url, capture=True,
    )  # fmt: skip
    token = next(
        line.split(":", 1)[1].strip() for line in staff.splitlines() if "API token" in line
    )
    end_day = datetime.now(UTC).date()
    start_day = end_day - timedelta(days=365)  # 366 whole days: the longest range allowed
    small_start = end_day - timedelta(days=30)

    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "WEB_CONCURRENCY": "1"}
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    command = [
        gunicorn, "slotbooking.wsgi", "-c", "slotbooking/gunicorn_conf.py",
        "--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout", "600",
        "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": marker.get("database"),
        "bookings": total,
        "loadavg_before": loadavg(),
    }
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.2)
        pid = _worker_pid(server.pid)
        csv_url = f"{base}/api/admin/bookings.csv?start_date={{}}&end_date={end_day}"
        log("warm-up: one day")
        download(csv_url.format(end_day), token, pid)
        log(f"last 31 days ({small_start} to {end_day})")
        report["small"] = download(csv_url.format(small_start), token, pid)
        log(f"every booking ({start_day} to {end_day})")
        report["full"] = download(csv_url.format(start_day), token, pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    report["loadavg_after"] = loadavg()
    small, full = report["small"], report["full"]
    report["peak_growth_mib"] = round(full["rss_peak_mib"] - small["rss_peak_mib"], 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "export-rss.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        f"# make bench-export: {report['started_at']}",
        "",
        f"{total} bookings in `{DB}`; gunicorn with 1 sync worker; load average before/after "
        f"{report['loadavg_before']} / {report['loadavg_after']} (a shared machine).",
        "",
        "| export | rows | MiB sent | seconds | rows/s | worker RSS before | peak RSS (VmHWM) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ("small", "full"):
        r = report[name]
        lines.append(
            f"| {name} | {r['rows']} | {r['megabytes']} | {r['seconds']} | "
            f"{r['rows_per_second']} | {r['rss_before_mib']} MiB | {r['rss_peak_mib']} MiB |"
        )
    lines += [
        "",
        f"Peak growth from the small to the full export: {report['peak_growth_mib']} MiB.",
    ]
    (RESULTS / "export-rss.md").write_text("\n".join(lines) + "\n")
    sys.stdout.write("\n".join(lines) + "\n")
    if full["status"] != 200 or full["rows"] < 0.9 * total:
        sys.stdout.write("PROBLEM: the full export did not return every booking\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
