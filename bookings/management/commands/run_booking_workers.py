"""manage.py run_booking_workers: one Celery worker per booking partition,
and with --with-beat the default-queue worker and beat (webhook delivery, sweeps, cleanup).

First come, first served needs each partition queue `bookings.<p>` to be consumed by exactly one
process, one task at a time, in queue order: concurrency 1, prefetch 1, late ack, solo pool. This
command starts those workers as child processes, restarts one that dies, and stops them all on
SIGINT/SIGTERM (warm shutdown: a running task finishes first).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from bookings.dispatch import booking_queue_enabled, booking_queue_name

RESTART_DELAY_SECONDS = 1.0
STOP_TIMEOUT_SECONDS = 30


def worker_command(partition: int, *, loglevel: str = "info") -> list[str]:
    """The worker of one partition; `-n bookings-<p>@%h` names it for `celery inspect`."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "slotbooking",
        "worker",
        "-Q",
        booking_queue_name(partition),
        "-c",
        "1",
        "--prefetch-multiplier",
        "1",
        "-P",
        "solo",
        "-n",
        f"bookings-{partition}@%h",
        # No gossip or mingle: a partition's worker needs no peers, and starts faster alone.
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        loglevel,
    ]


DEFAULT_WORKER_THREADS = 8


def default_worker_command(*, loglevel: str = "info", beat: bool = True) -> list[str]:
    """The worker of the `default` queue with the beat scheduler: webhook deliveries, the 30 s
    outbox sweep, hourly cleanup. A thread pool: deliveries wait on receivers, not on the CPU,
    and an endpoint takes one thread at a time, so a dead receiver cannot starve the others."""
    schedule = Path(settings.SLOTBOOKING_DATA_DIR) / "celerybeat-schedule"
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "slotbooking",
        "worker",
        "-Q",
        "default",
        "-P",
        "threads",
        "-c",
        str(DEFAULT_WORKER_THREADS),
        *(["-B", "--schedule", str(schedule)] if beat else []),
        "-n",
        "default@%h",
        "--loglevel",
        loglevel,
    ]


class Command(BaseCommand):
    help = "Start one booking worker per partition (BOOKING_QUEUE_PARTITIONS) and supervise them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-queued",
            action="store_true",
            help=(
                "start the partition workers only when BOOKING_MODE is queued "
                "(with --with-beat the default worker and beat still start)"
            ),
        )
        parser.add_argument(
            "--with-beat",
            action="store_true",
            help=(
                "also run the default-queue worker with beat, in either mode: webhook delivery "
                "and its 30-second sweep, hold expiry and waitlist offers every 30 seconds, "
                "hourly cleanup"
            ),
        )
        parser.add_argument("--loglevel", default="info")

    def handle(self, *args: Any, **options: Any) -> None:
        partitions = range(settings.BOOKING_QUEUE_PARTITIONS)
        if options["if_queued"] and not booking_queue_enabled():
            self.stdout.write("BOOKING_MODE is sync: no booking partition workers needed.")
            if not options["with_beat"]:
                return
            partitions = range(0)  # sync mode: only the default worker and beat
        commands = {
            f"bookings.{p}": worker_command(p, loglevel=options["loglevel"]) for p in partitions
        }
        if options["with_beat"]:
            commands["default"] = default_worker_command(loglevel=options["loglevel"])
        if not commands:
            return
        processes = {name: subprocess.Popen(command) for name, command in commands.items()}  # noqa: S603
        self.stdout.write(f"Started {len(processes)} workers: {', '.join(processes)}")
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while not stopping:
            time.sleep(0.5)
            for name, process in processes.items():
                if process.poll() is not None and not stopping:
                    # Exactly one consumer per partition: restart the dead one, never add one.
                    self.stderr.write(f"worker {name} exited ({process.returncode}); restarting")
                    time.sleep(RESTART_DELAY_SECONDS)
                    processes[name] = subprocess.Popen(commands[name])  # noqa: S603
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process in processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        self.stdout.write("Booking workers stopped.")
