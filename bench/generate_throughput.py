"""Benchmark: teacher request throughput against the local fake server (not a test).

    python bench/generate_throughput.py [--requests 1000] [--concurrency 32] [--latency 0.1] [--provider anthropic] \
        [--repeat 5] [--http-client aiohttp]

The server (tests/fakes/fake_llm.py, in its own process so it does not share the client's GIL) answers
every request after a fixed latency, so the named baseline is the ideal time
requests / concurrency x latency (3.125 s for the defaults). Importing the SDK and building its client
happen before the timer starts (a one-time cost of about a second, not throughput). Prints the
measured wall time (SDK client, rate limiter, budget accounting and the durable cache write per
response included) and its ratio to the ideal, per run and the median over --repeat runs, and the
client's CPU per request (what bounds throughput once the server keeps up). Goal: <= 1.3x.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--provider", default="anthropic", choices=["anthropic", "openai"])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--http-client", default="aiohttp", choices=["aiohttp", "httpx"],
                    help="teacher.http_client: the SDK's transport")
    a = ap.parse_args()
    from slm_factory.spec import TaskSpec

    os.environ.setdefault("ANTHROPIC_API_KEY", "bench-key")
    os.environ.setdefault("OPENAI_API_KEY", "bench-key")
    spec = TaskSpec.load(ROOT / "specs")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "tests.fakes.fake_llm", "--specs", str(ROOT / "specs"),
                               "--port", str(port), "--latency", str(a.latency)], stdout=subprocess.PIPE, text=True)
    server.stdout.readline()  # "fake LLM server on ..." once it listens
    ideal = a.requests / a.concurrency * a.latency
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus; provider {a.provider} (real SDK client, "
          f"{a.http_client} transport); "
          f"{a.requests} requests, concurrency {a.concurrency}, server latency {a.latency}s, ideal {ideal:.3f}s")
    ratios = []
    try:
        for i in range(a.repeat):
            wall, cpu, stats = run(a, spec, f"http://127.0.0.1:{port}")
            ratios.append(wall / ideal)
            print(f"run {i + 1}: {wall:.2f}s wall, ratio {wall / ideal:.2f}x, client CPU {cpu * 1000 / a.requests:.2f} "
                  f"ms/request; done {stats.done}, failed {stats.failed}")
    finally:
        server.terminate()
        server.wait()
    print(f"median ratio {statistics.median(ratios):.2f}x over {len(ratios)} runs (goal <= 1.3x)")


def run(a, spec, base: str):
    from slm_factory.config import changed, load
    from slm_factory.teachers.base import ResponseCache, plan_requests
    from slm_factory.teachers.factory import llm_teacher

    with tempfile.TemporaryDirectory() as tmp:
        url = base + ("" if a.provider == "anthropic" else "/v1")
        cfg = changed(load(ROOT / "params.yaml", ("teacher",)).teacher, provider=a.provider, model="bench",
                      base_url=url, concurrency=a.concurrency, rows_per_request=1, max_tokens=256,
                      http_client=a.http_client)
        teacher = llm_teacher(spec, cfg, 0, Path(tmp))
        requests = plan_requests(spec, a.requests)
        cache = ResponseCache(Path(tmp) / "cache")
        identity = teacher.identity()  # builds the SDK client: its import is a one-time cost, not timed
        keys = {r.index: ResponseCache.key(identity, teacher.prompt_for(r), r) for r in requests}
        t, c = time.perf_counter(), time.process_time()
        stats = teacher.complete(requests, lambda r, resp: cache.put(keys[r.index], resp))
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        cache.close()
    return wall, cpu, stats


if __name__ == "__main__":
    main()
