"""What every teacher shares: the interface, the request plan, the on-disk response cache, the budget,
rate limits and progress.

generate builds a deterministic list of `Request`s (one per sample index), asks the cache first and
the teacher only for misses, and stores every response the moment it arrives. The plan is a prefix-
stable sequence, so raising `n_examples` adds requests at the end and every earlier one is a cache hit.
The cache lives outside DVC's outputs (DVC deletes outputs before it reruns a stage).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import diskcache
import diskcache.core

from ..spec import TaskSpec


@dataclass(frozen=True)
class Request:
    namespace: str  # "main" or "repair"
    index: int
    category: str
    difficulty: str
    data_type: str | None = None  # fixed for repair requests; chosen by the teacher otherwise


@dataclass
class Response:
    text: str
    usage: dict[str, int] = field(default_factory=dict)
    stop_reason: str = "end"


@dataclass
class Budget:
    """Dollar accounting: what was spent, and the worst case of what is in flight."""

    limit: float | None
    price_in: float  # USD per token
    price_out: float
    spent: float = 0.0
    reserved: float = 0.0
    exhausted: bool = False

    def cost(self, usage: dict) -> float:
        return usage.get("input_tokens", 0) * self.price_in + usage.get("output_tokens", 0) * self.price_out

    def try_reserve(self, worst: float) -> bool:
        if self.limit is not None and self.spent + self.reserved + worst > self.limit:
            self.exhausted = True
            return False
        self.reserved += worst
        return True

    def settle(self, worst: float, usage: dict | None) -> None:
        self.reserved -= worst
        if usage:
            self.spent += self.cost(usage)


@dataclass
class RunStats:
    done: int = 0
    failed: int = 0
    skipped: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    errors: list[str] = field(default_factory=list)


Progress = Callable[[RunStats, Budget], None]


class Teacher(Protocol):
    provider: str
    rows_per_request: int
    stats: RunStats  # counts of the last `complete`
    budget: Budget  # dollars spent and the limit (the template teacher's costs nothing)
    progress: Progress | None  # called after each request, for a progress bar

    def identity(self) -> dict[str, Any]:
        """Everything that changes what a response would be, other than the request (for cache keys)."""

    def prompt_for(self, request: Request) -> str:
        """The filled prompt for a request."""

    def complete(self, requests: list[Request], on_response) -> Any:
        """Ask for every request; call on_response(request, response) as each one arrives."""


def smooth_round_robin(weights: list[float], n: int) -> list[int]:
    """Indices into `weights`, proportional to them and prefix-stable (nginx's smooth WRR)."""
    current = [0.0] * len(weights)
    total = sum(weights)
    out = []
    for _ in range(n):
        for k, w in enumerate(weights):
            current[k] += w
        best = max(range(len(weights)), key=lambda k: (current[k], -k))
        current[best] -= total
        out.append(best)
    return out


def plan_requests(spec: TaskSpec, n_examples: int, repair_plan: list[dict] | None = None) -> list[Request]:
    """The main plan follows the quota cells; a repair plan adds targeted requests after it."""
    cells = spec.cells()
    order = smooth_round_robin([w for _, _, w in cells], n_examples)
    requests = [Request("main", i, cells[k][0], cells[k][1]) for i, k in enumerate(order)]
    diffs = list(spec.quotas.get("difficulties", {}))
    idx = 0
    for item in repair_plan or []:
        for j in range(int(item["n"])):
            difficulty = item.get("difficulty") or diffs[j % len(diffs)]
            requests.append(Request("repair", idx, item["category"], difficulty, item.get("data_type")))
            idx += 1
    return requests


def request_tag(r: Request, rows: int | None = None) -> str:
    """The last line of an LLM prompt: which request this is, as `key=value` fields. It makes every
    prompt distinct (per-request seeds, logs, batch ids), and a stand-in server (tests/fakes) answers
    from it alone, never from the wording of a prompt template a user may rewrite."""
    fields = {"category": r.category, "difficulty": r.difficulty, "data_type": r.data_type or "any",
              **({"rows": rows} if rows else {})}
    return f"(request {r.namespace}-{r.index}: " + " ".join(f"{k}={v}" for k, v in fields.items()) + ")"


class _NotJson(ValueError):
    pass


class _JsonOnlyDisk(diskcache.JSONDisk):
    """Keys and values as (zlib-compressed) JSON, never pickle: the cache is shared by clones and
    experiments, and an entry planted there can at worst be a wrong answer, which the row parser
    rejects, never code that runs on read. A pickled value (an older format, or a planted one) is
    refused, and the request is asked again."""

    def fetch(self, mode, filename, value, read):
        if mode == diskcache.core.MODE_PICKLE:
            raise _NotJson("a pickled cache entry")
        return super().fetch(mode, filename, value, read)


class ResponseCache:
    """Durable key -> response store (SQLite via diskcache, JSON values); each `put` is committed at once.
    An entry that cannot be read as a response (corrupt, foreign, pickled) is a miss, never an error."""

    def __init__(self, path: str | Path):
        self.store = diskcache.Cache(str(path), eviction_policy="none", size_limit=2**40, disk=_JsonOnlyDisk)

    @staticmethod
    def key(identity: dict, prompt: str, request: Request) -> str:
        blob = json.dumps({"identity": identity, "prompt": prompt, "namespace": request.namespace,
                           "index": request.index}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key: str) -> Response | None:
        try:
            hit = self.store.get(key)
        except (ValueError, zlib.error, UnicodeDecodeError):  # _NotJson, bad JSON, not zlib
            return None
        if not isinstance(hit, dict) or not isinstance(hit.get("text"), str):
            return None
        usage = hit.get("usage") if isinstance(hit.get("usage"), dict) else {}
        stop = hit.get("stop_reason") if isinstance(hit.get("stop_reason"), str) else "end"
        return Response(text=hit["text"], usage={k: v for k, v in usage.items() if isinstance(v, int)},
                        stop_reason=stop)

    def put(self, key: str, response: Response) -> None:
        self.store.set(key, {"text": response.text, "usage": response.usage, "stop_reason": response.stop_reason})

    def close(self) -> None:
        self.store.close()


def ask_cached(teacher: Teacher, requests: list[Request], cache: ResponseCache,
               ask=None) -> tuple[list[str], dict[str, Response | None], list[Request]]:
    """Answer requests from the cache, asking the teacher only for the misses.

    Returns (key per request, {key: response or None if still unanswered}, the requests that were
    asked). Each answer is written to the cache the moment it arrives, before anything else uses it,
    so a killed run never pays twice. `ask(missing, on_response)` defaults to `teacher.complete`
    (generate wraps it in a progress bar).
    """
    identity = teacher.identity()
    keys = [ResponseCache.key(identity, teacher.prompt_for(r), r) for r in requests]
    key_of = {(r.namespace, r.index): k for r, k in zip(requests, keys)}
    responses = {k: cache.get(k) for k in keys}
    missing = [r for r, k in zip(requests, keys) if responses[k] is None]

    def on_response(r: Request, resp: Response) -> None:
        k = key_of[(r.namespace, r.index)]
        cache.put(k, resp)
        responses[k] = resp

    if missing:
        (ask or teacher.complete)(missing, on_response)
    return keys, responses, missing


@dataclass
class RateLimiter:
    """Requests/minute and tokens/minute over a sliding 60 s window (None = unlimited)."""

    rpm: int | None
    tpm: int | None
    _starts: deque = field(default_factory=deque)
    _tokens: deque = field(default_factory=deque)
    _lock: asyncio.Lock | None = None

    async def wait(self, tokens: int) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            while True:
                now = time.monotonic()
                for q in (self._starts, self._tokens):
                    while q and now - q[0][0] >= 60:
                        q.popleft()
                ok_r = self.rpm is None or len(self._starts) < self.rpm
                ok_t = self.tpm is None or sum(t for _, t in self._tokens) + tokens <= self.tpm or not self._tokens
                if ok_r and ok_t:
                    self._starts.append((now, 1))
                    self._tokens.append((now, tokens))
                    return
                oldest = min(q[0][0] for q in (self._starts, self._tokens) if q)
                await asyncio.sleep(max(0.01, 60 - (now - oldest)))
