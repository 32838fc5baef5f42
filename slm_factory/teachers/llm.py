"""What the LLM teachers share, whatever the API: prompts from the task's template, the budget, rate
limits, concurrency, the online run, answering eval rows, and the bookkeeping of batch mode. One
subclass per API says how to build a request body, send it, read the answer and run a batch
(anthropic_api.py, openai_api.py).

Keys come only from the SDKs' usual environment variables (ANTHROPIC_API_KEY, OPENAI_API_KEY, or the
one `teacher.api_key_env` names); ANTHROPIC_BASE_URL / OPENAI_BASE_URL keep working, and
`teacher.base_url` overrides them. Requests run concurrently up to `teacher.concurrency`, under
`teacher.requests_per_minute` and `teacher.tokens_per_minute`; the SDKs retry 429/5xx/timeouts with
backoff that honours Retry-After. Every response is handed to `on_response` the moment it arrives
(generate caches it durably there), so a killed run never pays twice. `teacher.max_cost_usd` stops
dispatching before the worst case of what is in flight could exceed the budget.
`teacher.mode: batch` uses the OpenAI Batch API / Anthropic Message Batches (half price); submitted
batch ids are kept next to the cache so a restarted run polls them instead of resubmitting.
`teacher.mode: native_tools` (OpenAI-compatible endpoints: vLLM, Ollama, OpenAI) collects traces the
way a tool-calling model is used in production: the teacher writes the requests, then each request is
sent again under the task's system prompt with the catalog as `tools` (`tool_call`), and the model's
own tool call becomes the label (`generation.native_tools_labeller`, which generate sets as
`relabel`). The labelling calls' tokens are added to the response's usage, so the budget and the
cache see one response.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import yaml

from ..config import Teacher as TeacherConfig
from ..spec import SpecError, TaskSpec
from .base import Budget, Progress, RateLimiter, Request, Response, ResponseCache, RunStats, request_tag

KEY_ENV = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}
BATCH_STORE = "pending_batches.json"
OnResponse = Callable[[Request, Response], None]


class TeacherConfigError(SpecError):
    """Bad teacher configuration (missing key, unknown provider or model price)."""


def api_key_env(cfg: TeacherConfig) -> str:
    """The environment variable holding the key: the SDK's own, or `api_key_env` for a compatible server."""
    if cfg.provider == "openai_compatible":
        return cfg.api_key_env or KEY_ENV["openai"]
    return KEY_ENV[cfg.provider]


def require_key(cfg: TeacherConfig) -> str:
    """The API key, or one clear error naming the variable, before any work is done."""
    env = api_key_env(cfg)
    key = os.environ.get(env)
    if not key:
        raise TeacherConfigError(f"teacher.provider={cfg.provider} needs the environment variable {env} "
                                 "(export it, or use teacher.provider: template for the offline default)")
    return key


def load_prices(spec: TaskSpec) -> dict[str, dict[str, float]]:
    path = spec.root / spec.raw.get("prices", "prices.yaml")
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


class LLMTeacher:
    """A teacher behind an official SDK; subclasses fill in the API. See the module docstring."""

    sdk = ""  # the SDK module: anthropic | openai
    client_class = ""  # its async client
    native_tools = False  # can label with the endpoint's own tool calls (teacher.mode: native_tools)

    def __init__(self, spec: TaskSpec, cfg: TeacherConfig, seed: int, cache_dir: Path | None = None,
                 prompt: str = "generate.md"):
        """`cfg` is the validated `teacher:` group (the judge builds one from `validate.judge`); `prompt`
        is the task's prompt file under specs/generation_prompts/."""
        self.spec, self.cfg, self.seed = spec, cfg, seed
        self.provider = cfg.provider
        self.model = cfg.model
        if not self.model:
            raise TeacherConfigError(f"teacher.model is required for provider {self.provider}")
        self.api_key = require_key(cfg)
        self.mode = cfg.mode
        if self.mode == "native_tools":
            if not self.native_tools:
                raise TeacherConfigError("teacher.mode native_tools calls an OpenAI-compatible endpoint's `tools`: "
                                         "use provider openai or openai_compatible")
            if not spec.args_key:
                raise TeacherConfigError("teacher.mode native_tools maps tool calls onto label_key/args_key: "
                                         f"{spec.root}/task.yaml names no args_key")
        self.http_client = cfg.http_client
        self.rows_per_request = cfg.rows_per_request
        self.template = spec.prompt_text(prompt)
        self.schema_text = json.dumps(spec.json_schema(), separators=(",", ":"))  # once, not per request
        self.cache_dir = cache_dir
        prices = load_prices(spec)
        price = prices.get(self.model)
        limit = cfg.max_cost_usd
        if price is None and limit is not None:
            raise TeacherConfigError(f"teacher.max_cost_usd is set but {spec.root}/prices.yaml has no price for "
                                     f"model {self.model!r}; add one so the budget can be enforced")
        price = price or {"input": 0.0, "output": 0.0}
        factor = 0.5 if self.mode == "batch" else 1.0  # both batch APIs are half price
        self.budget = Budget(limit=float(limit) if limit is not None else None,
                             price_in=factor * float(price["input"]) / 1e6,
                             price_out=factor * float(price["output"]) / 1e6)
        self.stats = RunStats()
        self.progress: Progress | None = None
        # native_tools: async (teacher, response) -> response, set by the generate stage
        self.relabel: Callable[..., Any] | None = None
        self._client = None
        # Another prompt for the same API (the judge's): request -> prompt, replacing the teacher's own.
        self.prompter: Callable[[Request], str] | None = None

    # --- identity and prompts -----------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return str(self.client().base_url)

    def identity(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model, "base_url": self.base_url,
                "temperature": self.cfg.temperature, "max_tokens": self.cfg.max_tokens,
                "rows_per_request": self.rows_per_request, "seed": self.seed,
                "template": hashlib.sha256(self.template.encode()).hexdigest()[:16],
                # only when set, so the cache keys of the other modes stay what they were
                **({"labels": "native_tools"} if self.mode == "native_tools" else {})}

    def prompt_for(self, r: Request) -> str:
        if self.prompter is not None:
            return self.prompter(r)
        spec = self.spec
        fill = {
            "task": spec.raw.get("description") or spec.prompted_system_prompt,
            "schema": self.schema_text,
            "n": str(self.rows_per_request), "category": r.category, "difficulty": r.difficulty,
            "data_type": r.data_type or "any of: " + ", ".join(spec.data_types()),
            "edge_case": (spec.raw.get("edge_cases") or {}).get(r.data_type or "", "one that a real user would hit"),
            "negative_constraints": "\n".join(f"- {c}" for c in spec.raw.get("negative_constraints", [])),
            "rules": spec.raw.get("rules_summary", ""),
            "index": str(r.index),
        }
        text = self.template
        for k, v in fill.items():
            text = text.replace("{" + k + "}", v)
        return text + "\n" + request_tag(r, self.rows_per_request) + "\n"

    def worst_case_cost(self, prompt: str) -> float:
        return (len(prompt) / 3) * self.budget.price_in + self.cfg.max_tokens * self.budget.price_out

    # --- clients --------------------------------------------------------------------------------
    def client(self):
        if self._client is None:
            kw = {"api_key": self.api_key, "max_retries": self.cfg.max_retries, "timeout": self.cfg.timeout_s}
            if self.cfg.base_url:
                kw["base_url"] = self.cfg.base_url
            sdk = importlib.import_module(self.sdk)
            if self.http_client == "aiohttp":
                # The SDKs' aiohttp transport (their `aiohttp` extra): about a third less client CPU
                # per request than the default httpx one, which is what bounds throughput at high
                # concurrency (bench/generate_throughput.py).
                kw["http_client"] = sdk.DefaultAioHttpClient()
            self._client = getattr(sdk, self.client_class)(**kw)
        return self._client

    def _body(self, prompt: str, r: Request | None = None, system: str | None = None,
              max_tokens: int | None = None, temperature: float | None = None) -> dict:
        """The request body. Generation requests pass `r` (seeded per request where the API takes a
        seed); answering eval rows passes a system prompt and temperature 0."""
        raise NotImplementedError

    async def _call(self, body: dict) -> Response:
        """One request through the SDK client (auth, retries with backoff honouring Retry-After,
        typed errors), posted with its generic `post` (the SDKs' documented way to send a body
        as is) and read from the raw JSON. The typed `create` methods would walk the body through
        the SDK's parameter transformer and build typed response models: for OpenAI that was
        over half of the client's CPU per request, which bounds throughput at high concurrency."""
        import httpx2

        raw = await self.client().post(self.endpoint, body=body, cast_to=httpx2.Response)
        return self.parse(json.loads(raw.content))

    endpoint = ""  # the generation endpoint, relative to the client's base URL

    @staticmethod
    def parse(answer: dict) -> Response:
        """A Response from the API's JSON answer (batch results, typed by the SDK, come as dicts too)."""
        raise NotImplementedError

    async def _submit(self, requests: dict[str, Request]) -> str:
        """Submit {request key: request} as one batch; each key is its item's custom_id."""
        raise NotImplementedError

    async def _collect(self, batch_id: str) -> dict[str, Response | str]:
        """{custom_id: Response, or the error text} once the batch has ended."""
        raise NotImplementedError

    # --- online mode ----------------------------------------------------------------------------
    def complete(self, requests: list[Request], on_response: OnResponse) -> RunStats:
        if self.mode == "native_tools" and self.relabel is None:
            raise TeacherConfigError("teacher.mode native_tools: no labeller set (generate sets "
                                     "generation.native_tools_labeller)")
        if self.mode == "batch":
            return asyncio.run(self._batch(requests, on_response))
        return asyncio.run(self._online(requests, on_response))

    async def _online(self, requests: list[Request], on_response: OnResponse) -> RunStats:
        sem = asyncio.Semaphore(self.cfg.concurrency)
        limiter = RateLimiter(self.cfg.requests_per_minute, self.cfg.tokens_per_minute)
        stop = asyncio.Event()

        async def run(r: Request) -> None:
            async with sem:
                if stop.is_set():
                    self.stats.skipped += 1
                    return
                prompt = self.prompt_for(r)
                worst = self.worst_case_cost(prompt)
                if not self.budget.try_reserve(worst):
                    stop.set()  # stop cleanly: nothing new starts, what is in flight finishes
                    self.stats.skipped += 1
                    return
                await limiter.wait(int(len(prompt) / 3) + self.cfg.max_tokens)
                usage = None
                try:
                    resp = await self._call(self._body(prompt, r))
                    if self.mode == "native_tools":
                        resp = await self.relabel(self, resp)
                    usage = resp.usage
                    self._record(r, resp, on_response)
                except Exception as e:  # noqa: BLE001 - after the SDK's retries, a request is reported, not fatal
                    self.stats.failed += 1
                    self.stats.errors.append(f"{r.namespace}:{r.index}: {type(e).__name__}: {str(e)[:200]}")
                finally:
                    self.budget.settle(worst, usage)
                    if self.progress:
                        self.progress(self.stats, self.budget)

        await asyncio.gather(*(run(r) for r in requests))
        await self._close()
        return self.stats

    async def _close(self) -> None:
        """Close the client inside the event loop that used it; the next run builds a fresh one."""
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _record(self, r: Request, resp: Response, on_response: OnResponse) -> None:
        self.stats.done += 1
        self.stats.input_tokens += resp.usage.get("input_tokens", 0)
        self.stats.output_tokens += resp.usage.get("output_tokens", 0)
        on_response(r, resp)

    # --- answering eval rows (the "larger model" baseline) ---------------------------------------
    def answer_all(self, system: str, users: list[str], max_tokens: int = 256) -> tuple[list[str], float]:
        """The model's answer to each user message under `system`, temperature 0 ("" on failure)."""
        return asyncio.run(self._answer_all(system, users, max_tokens))

    async def _answer_all(self, system: str, users: list[str], max_tokens: int) -> tuple[list[str], float]:
        sem = asyncio.Semaphore(self.cfg.concurrency)
        t0 = time.perf_counter()

        async def one(user: str) -> str:
            async with sem:
                try:
                    return (await self._call(self._body(user, system=system, max_tokens=max_tokens,
                                                        temperature=0.0))).text
                except Exception as e:  # noqa: BLE001 - scored as an unparseable answer
                    self.stats.errors.append(f"{type(e).__name__}: {str(e)[:200]}")
                    return ""

        out = await asyncio.gather(*(one(u) for u in users))
        await self._close()
        return list(out), time.perf_counter() - t0

    # --- batch mode -------------------------------------------------------------------------------
    def _store(self) -> Path:
        if self.cache_dir is None:
            raise TeacherConfigError("batch mode needs a cache folder to remember submitted batches")
        return self.cache_dir / BATCH_STORE

    def _pending(self) -> list[dict]:
        p = self._store()
        return json.loads(p.read_text()) if p.exists() else []

    def _save_pending(self, items: list[dict]) -> None:
        p = self._store()
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(items, indent=1))
        os.replace(tmp, p)  # atomic: a crash leaves the old or the new list, never half of one

    async def _batch(self, requests: list[Request], on_response: OnResponse) -> RunStats:
        identity = self.identity()
        by_key = {ResponseCache.key(identity, self.prompt_for(r), r): r for r in requests}  # the cache's keys
        pending = [b for b in self._pending() if b["identity"] == identity]
        waiting = {k for b in pending for k in b["keys"]}
        todo = {k: r for k, r in by_key.items() if k not in waiting}
        reserved: dict[str, float] = {}  # worst case held per submitted request until its result settles it
        for k, r in todo.items():
            worst = self.worst_case_cost(self.prompt_for(r))
            if not self.budget.try_reserve(worst):
                break  # as online: nothing after the first request the budget cannot cover
            reserved[k] = worst
        self.stats.skipped += len(todo) - len(reserved)
        if reserved:
            batch_id = await self._submit({k: todo[k] for k in reserved})
            pending.append({"identity": identity, "batch_id": batch_id, "keys": list(reserved)})
            self._save_pending(self._pending() + [pending[-1]])
        for b in pending:
            results = await self._collect(b["batch_id"])
            for key, resp_or_err in results.items():
                r = by_key.get(key)
                if r is None:
                    continue
                worst = reserved.pop(key, 0.0)  # 0.0: submitted by an earlier run, nothing held here
                if isinstance(resp_or_err, Response):
                    self.budget.settle(worst, resp_or_err.usage)
                    self._record(r, resp_or_err, on_response)
                else:
                    self.budget.settle(worst, None)
                    self.stats.failed += 1
                    self.stats.errors.append(f"{r.namespace}:{r.index}: {resp_or_err}")
            self._save_pending([x for x in self._pending() if x["batch_id"] != b["batch_id"]])
        await self._close()
        return self.stats

