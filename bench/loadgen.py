"""A small HTTP/1.1 keep-alive load generator: the fallback when wrk cannot be installed.

    python -m bench.loadgen --host 127.0.0.1 --port P --connections C --duration S \
        --requests FILE --result OUT.json

It reads the same request file as bench/wrk/requests.lua (connection i sends lines i, i+C, ...),
runs C connections in one asyncio loop for S seconds, and writes the same JSON as the Lua
script, plus its own CPU use: a load generator near 100% of a core is the bottleneck, and the
report says so (`loadgen_cpu`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from collections import Counter
from pathlib import Path


def _encode(line: str, host: str) -> bytes:
    method, path, header_text, body = line.rstrip("\n").split("\t", 3)
    headers = [h for h in header_text.split("|") if h]
    data = body.encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *headers]
    if data:
        lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def _connection(
    host: str,
    port: int,
    requests: list[bytes],
    deadline: float,
    latencies: list[float],
    statuses: Counter[int],
    errors: Counter[str],
) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        errors["connect"] += 1
        return
    index = 0
    while time.perf_counter() < deadline:
        if index and index % len(requests) == 0:
            errors["wrapped"] += 1  # this connection starts its slice again
        raw = requests[index % len(requests)]
        index += 1
        started = time.perf_counter()
        try:
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for header in head.split(b"\r\n")[1:]:
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors["read"] += 1
            break
        latencies.append(time.perf_counter() - started)
        statuses[status] += 1
    writer.close()


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


async def run(host: str, port: int, connections: int, duration: float, lines: list[str]) -> dict:
    slices = [
        [_encode(line, f"{host}:{port}") for line in lines[i::connections]]
        or [_encode(lines[i % len(lines)], f"{host}:{port}")]
        for i in range(connections)
    ]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(
        *(
            _connection(host, port, slices[i], deadline, latencies, statuses, errors)
            for i in range(connections)
        )
    )
    elapsed = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    ordered = sorted(latencies)

    def us(seconds: float) -> int:
        return int(seconds * 1_000_000)

    return {
        "requests": len(latencies),
        "duration_us": us(elapsed),
        "bytes": 0,
        "wrapped": errors["wrapped"],
        "latency_us": {
            "p50": us(_percentile(ordered, 0.50)),
            "p90": us(_percentile(ordered, 0.90)),
            "p99": us(_percentile(ordered, 0.99)),
            "max": us(ordered[-1]) if ordered else 0,
            "mean": us(sum(ordered) / len(ordered)) if ordered else 0,
        },
        "socket_errors": {
            "connect": errors["connect"],
            "read": errors["read"],
            "write": 0,
            "timeout": 0,
        },
        "statuses": {str(s): n for s, n in sorted(statuses.items())},
        "loadgen_cpu": round(cpu / elapsed, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args()
    lines = [line for line in args.requests.read_text().splitlines() if line]
    result = asyncio.run(run(args.host, args.port, args.connections, args.duration, lines))
    args.result.write_text(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
