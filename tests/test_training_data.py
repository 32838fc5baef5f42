"""slm_factory.training.data: what the trainer sees is exactly what eval prompts with, plus the answer."""

from __future__ import annotations

from transformers import AutoTokenizer

from slm_factory import modeling
from slm_factory.evaluation import messages_for
from slm_factory.training.data import prompt_completion


def test_training_text_extends_the_eval_prompt(tokenizer_dir, row_factory, spec):
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    row = row_factory("remind me to call Sam tomorrow at 9am", {"tool": "create_reminder", "arguments": {
        "text": "call Sam", "date": "tomorrow", "time": "09:00"}})
    pc = prompt_completion([row])[0]
    prompt = modeling.render(tok, pc["prompt"])                       # what TRL treats as the prompt
    full = tok.apply_chat_template(pc["prompt"] + pc["completion"], tokenize=False)
    eval_prompt = modeling.render(tok, messages_for(row, spec.system_prompt))  # what eval generates from
    assert prompt == eval_prompt
    assert full.startswith(prompt)
    completion = full[len(prompt):]
    assert completion.startswith(row.assistant)
    assert tok.eos_token in completion  # the model learns to stop
    # round trip: the assistant answer is recovered exactly from the rendered conversation
    assert completion.split(tok.eos_token)[0] == row.assistant


def test_a_multi_turn_row_learns_its_last_turn_only(tokenizer_dir, row_factory, spec):
    """An unrolled trace's row: the prompt TRL masks out holds the history (earlier answers and tool
    results), the completion holds the last answer alone, and eval renders the same prompt."""
    from slm_factory.rows import Message, make_row

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    first = row_factory("weather in oslo?", {"tool": "get_weather", "arguments": {"location": "oslo"}})
    answer = spec.canonical({"tool": "set_timer", "arguments": {"duration_seconds": 600}})
    row = make_row(spec.system_prompt, "then a 10 minute timer", answer, first.provenance,
                   history=[first.messages[1], first.messages[2], Message(role="tool", content='{"temp_c": -3}')])
    pc = prompt_completion([row])[0]
    prompt = modeling.render(tok, pc["prompt"])
    assert prompt == modeling.render(tok, messages_for(row, spec.system_prompt))
    assert first.assistant in prompt and '{"temp_c": -3}' in prompt and prompt.index(first.assistant) < prompt.index("then a 10")
    full = tok.apply_chat_template(pc["prompt"] + pc["completion"], tokenize=False)
    assert full.startswith(prompt) and full[len(prompt):].split(tok.eos_token)[0] == answer
