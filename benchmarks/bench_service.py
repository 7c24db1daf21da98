"""The web service: `POST /api/plan` under load on localhost.

`factordose serve` runs in its own process (uvicorn, one worker) on a
throwaway database; an async httpx client keeps 32 requests in flight until a
fixed number have been answered, then stops.  The orders are synthetic adult
prophylaxis doses of Jivi (benchmarks/instances.py) with a shelf of 8 lots
given inline.  The baseline is `dosing.plan` of the same orders in one
process, no HTTP, measured in the same run.  Client and server share the
machine's 2 cores, so the HTTP figures include the client's own work.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.instances import prophylaxis_order, shelf
from benchmarks.timing import percentile
from dosing import plan

CLIENTS = 32


def _orders(n: int) -> list[dict[str, object]]:
    rng = random.Random(21)
    lots = [
        {"lot": lot.lot, "amount": float(lot.amount), "count": lot.count, "product": "Jivi"}
        for lot in shelf(rng, 8, 10)
    ]
    return [{**prophylaxis_order(rng), "inventory": lots} for _ in range(n)]


async def _load(
    base: str, orders: list[dict[str, object]]
) -> tuple[list[float], list[float], int, float]:
    latencies: list[float] = []
    inside: list[float] = []  # the service's own time (its Server-Timing header)
    errors = 0
    queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    for order in orders:
        queue.put_nowait(order)
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                order = queue.get_nowait()
                started = time.perf_counter()
                try:
                    response = await client.post("/api/plan", json=order)
                except httpx.TransportError:  # a dropped connection: an error, not a crash
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)
                timing = response.headers.get("server-timing", "dur=nan")
                inside.append(float(timing.rsplit("dur=", 1)[1]) / 1e3)
                if response.status_code != 200 or response.json().get("status") != "ok":
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - began
    return latencies, inside, errors, elapsed


def _serve(folder: Path, workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    database = f"sqlite:///{folder / 'service.db'}"
    command = ["serve", "--port", str(port), "--db", database, "--workers", str(workers)]
    process = subprocess.Popen(
        [sys.executable, "-m", "dosing", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert process.stdout is not None
    process.stdout.readline()  # "serving on ...": the app is built; wait for the socket
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(f"{base}/api/codes", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    return process, base


def _cpu(pid: int) -> float:
    """Seconds of CPU the process has used (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(quick: bool, out_dir: Path) -> dict[str, object]:
    n = 300 if quick else 5000
    orders = _orders(n)
    with tempfile.TemporaryDirectory() as tmp:
        process, base = _serve(Path(tmp))
        try:
            asyncio.run(_load(base, orders[:50]))  # warm: imports, the first solves
            server_before, client_before = _cpu(process.pid), time.process_time()
            latencies, inside, errors, elapsed = asyncio.run(_load(base, orders))
            server_cpu = _cpu(process.pid) - server_before
            client_cpu = time.process_time() - client_before
        finally:
            process.terminate()
            process.wait(timeout=30)
    started = time.perf_counter()
    for order in orders:
        plan(order)
    local = n / (time.perf_counter() - started)
    rate = len(latencies) / elapsed  # the requests answered
    p50, p95, p99 = (percentile(latencies, p) * 1e3 for p in (50, 95, 99))
    s50, s95, s99 = (percentile(inside, p) * 1e3 for p in (50, 95, 99))
    return {
        "title": f"Web service: POST /api/plan, {CLIENTS} clients, {n:,} requests",
        "columns": ("measure", "over HTTP", "baseline: `dosing.plan` in process", "ratio"),
        "rows": [
            (
                "throughput",
                f"{rate:,.0f} plans/s",
                f"{local:,.0f} plans/s",
                f"{rate / local:.0%} of in process",
            ),
            (
                "latency p50 / p95 / p99, at the client",
                f"{p50:.1f} / {p95:.1f} / {p99:.1f} ms",
                "",
                "",
            ),
            (
                "time in the service p50 / p95 / p99 (Server-Timing)",
                f"{s50:.2f} / {s95:.2f} / {s99:.2f} ms",
                "",
                "",
            ),
            (
                "CPU per request: service / client",
                f"{server_cpu / n * 1e3:.2f} / {client_cpu / n * 1e3:.2f} ms",
                f"{1e3 / local:.2f} ms per plan",
                "",
            ),
            ("errors", f"{errors:,} of {n:,}", "", ""),
        ],
        "headline": (
            f"service: {rate:,.0f} plans/s over HTTP with {CLIENTS} clients "
            f"({rate / local:.0%} of in process), p95 {p95:.1f} ms, "
            f"{errors} error{'' if errors == 1 else 's'}"
        ),
        "notes": [
            f"With {CLIENTS} requests in flight, a request's latency at the client is "
            "mostly waiting: in the client's own event loop (httpx in Python costs more "
            "CPU per request than the service spends on it) and in line at the service. "
            "The time in the service is what one request costs it; its share of the run "
            "says how much of the throughput limit is the service's."
        ],
    }
