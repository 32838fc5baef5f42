"""The OpenAI teacher (Chat Completions, the Batch API) and any OpenAI-compatible server (vLLM, Ollama,
a gateway) through the same SDK; both can label with the endpoint's own tool calls (`native_tools`)."""

from __future__ import annotations

import asyncio
import json

from .base import Request, Response
from .llm import LLMTeacher


class OpenAITeacher(LLMTeacher):
    """`teacher.provider: openai` (key: OPENAI_API_KEY)."""

    sdk = "openai"
    client_class = "AsyncOpenAI"
    endpoint = "/chat/completions"
    native_tools = True
    max_tokens_key = "max_completion_tokens"  # OpenAI's own name; compatible servers keep max_tokens

    def _body(self, prompt: str, r: Request | None = None, system: str | None = None,
              max_tokens: int | None = None, temperature: float | None = None) -> dict:
        msgs = [{"role": "user", "content": prompt}]
        if system is not None:
            msgs.insert(0, {"role": "system", "content": system})
        temp = self.cfg.temperature if temperature is None else temperature
        body = {"model": self.model, "messages": msgs, "temperature": temp}
        if r is not None:
            body["seed"] = self.seed + r.index
        body[self.max_tokens_key] = max_tokens or self.cfg.max_tokens
        return body

    @staticmethod
    def parse(answer: dict) -> Response:
        choice = answer["choices"][0]
        message = choice.get("message") or {}
        stop = "max_tokens" if choice.get("finish_reason") == "length" else "end"
        if message.get("refusal"):
            stop = "refusal"
        text = message.get("content") or message.get("refusal") or ""
        usage = answer.get("usage") or {}
        return Response(text=text, stop_reason=stop, usage={"input_tokens": int(usage.get("prompt_tokens") or 0),
                                                            "output_tokens": int(usage.get("completion_tokens") or 0)})

    async def tool_call(self, system: str, user: str, tools: list[dict]) -> tuple[dict | None, str, dict]:
        """One request with `tools` offered (OpenAI's function calling), temperature 0: (the first
        call as {"name", "arguments" (parsed)} or None, the text content, usage)."""
        import httpx2

        body = {**self._body(user, system=system, temperature=0.0), "tools": tools, "tool_choice": "auto"}
        raw = await self.client().post(self.endpoint, body=body, cast_to=httpx2.Response)
        comp = json.loads(raw.content)
        u = comp.get("usage") or {}
        usage = {"input_tokens": int(u.get("prompt_tokens") or 0), "output_tokens": int(u.get("completion_tokens") or 0)}
        message = (comp.get("choices") or [{}])[0].get("message") or {}
        calls = message.get("tool_calls") or []
        if not calls:
            return None, message.get("content") or "", usage
        fn = calls[0]["function"]
        return {"name": fn["name"], "arguments": json.loads(fn.get("arguments") or "{}")}, message.get("content") or "", usage

    async def _submit(self, requests: dict[str, Request]) -> str:
        c = self.client()
        lines = [json.dumps({"custom_id": k, "method": "POST", "url": "/v1/chat/completions",
                             "body": self._body(self.prompt_for(r), r)}) for k, r in requests.items()]
        f = await c.files.create(file=("requests.jsonl", ("\n".join(lines) + "\n").encode()), purpose="batch")
        batch = await c.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
        return batch.id

    async def _collect(self, batch_id: str) -> dict[str, Response | str]:
        c = self.client()
        poll = self.cfg.batch_poll_s
        out: dict[str, Response | str] = {}
        while True:
            b = await c.batches.retrieve(batch_id)
            if b.status in ("completed", "failed", "expired", "cancelled"):
                break
            await asyncio.sleep(poll)
        from openai.types.chat import ChatCompletion
        for file_id in (b.output_file_id, b.error_file_id):
            if not file_id:
                continue
            text = (await c.files.content(file_id)).text
            for line in text.splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                resp = item.get("response") or {}
                if resp.get("status_code") == 200:
                    out[item["custom_id"]] = self.parse(ChatCompletion.model_validate(resp["body"]).model_dump())
                else:
                    out[item["custom_id"]] = f"batch error {resp.get('status_code')}: {item.get('error')}"
        return out


class OpenAICompatibleTeacher(OpenAITeacher):
    """`teacher.provider: openai_compatible`: `teacher.base_url` and the key in `teacher.api_key_env`."""

    max_tokens_key = "max_tokens"
