"""Teachers: what writes the rows generate asks for. `base`: the interface, request plan, response cache,
budget, rate limits and progress; `template`: the offline grammar (the default); `llm`: what the LLM
teachers share, with one class per API in `anthropic_api` and `openai_api` (OpenAI and any
OpenAI-compatible server); `factory`: the one place a teacher is built from params. Nothing here imports
an SDK at import time."""
