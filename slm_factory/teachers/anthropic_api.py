"""The Anthropic teacher: the Messages API, and Message Batches for `teacher.mode: batch`."""

from __future__ import annotations

import asyncio

from .base import Request, Response
from .llm import LLMTeacher


class AnthropicTeacher(LLMTeacher):
    """`teacher.provider: anthropic` (key: ANTHROPIC_API_KEY)."""

    sdk = "anthropic"
    client_class = "AsyncAnthropic"
    endpoint = "/v1/messages"

    def _body(self, prompt: str, r: Request | None = None, system: str | None = None,
              max_tokens: int | None = None, temperature: float | None = None) -> dict:
        # The current Messages API takes neither a temperature nor a seed.
        body = {"model": self.model, "max_tokens": max_tokens or self.cfg.max_tokens,
                "messages": [{"role": "user", "content": prompt}]}
        if system is not None:
            body["system"] = system
        return body

    @staticmethod
    def parse(answer: dict) -> Response:
        text = "".join(b.get("text", "") for b in answer.get("content") or [] if isinstance(b, dict))
        stop = {"max_tokens": "max_tokens", "refusal": "refusal"}.get(answer.get("stop_reason") or "", "end")
        usage = answer.get("usage") or {}
        return Response(text=text, stop_reason=stop, usage={"input_tokens": int(usage.get("input_tokens") or 0),
                                                            "output_tokens": int(usage.get("output_tokens") or 0)})

    async def _submit(self, requests: dict[str, Request]) -> str:
        batch = await self.client().messages.batches.create(requests=[
            {"custom_id": k, "params": self._body(self.prompt_for(r), r)} for k, r in requests.items()])
        return batch.id

    async def _collect(self, batch_id: str) -> dict[str, Response | str]:
        c = self.client()
        poll = self.cfg.batch_poll_s
        while (await c.messages.batches.retrieve(batch_id)).processing_status != "ended":
            await asyncio.sleep(poll)
        out: dict[str, Response | str] = {}
        async for item in await c.messages.batches.results(batch_id):
            if item.result.type == "succeeded":
                out[item.custom_id] = self.parse(item.result.message.model_dump())
            else:
                out[item.custom_id] = f"batch result {item.result.type}"
        return out
