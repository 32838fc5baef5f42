"""The one place a teacher is built from `teacher:` in params.yaml."""

from __future__ import annotations

from pathlib import Path

from ..config import Teacher as TeacherConfig
from ..spec import TaskSpec
from .anthropic_api import AnthropicTeacher
from .base import Teacher
from .llm import LLMTeacher, TeacherConfigError
from .openai_api import OpenAICompatibleTeacher, OpenAITeacher
from .template import TemplateTeacher

LLM_TEACHERS: dict[str, type[LLMTeacher]] = {
    "anthropic": AnthropicTeacher, "openai": OpenAITeacher, "openai_compatible": OpenAICompatibleTeacher}


def llm_teacher(spec: TaskSpec, cfg: TeacherConfig, seed: int, cache_dir: Path | None = None,
                prompt: str = "generate.md") -> LLMTeacher:
    """The LLM teacher `teacher.provider` names; it checks its API key here, before any work."""
    if cfg.provider not in LLM_TEACHERS:
        raise TeacherConfigError(f"teacher.provider {cfg.provider!r} is not an LLM API: "
                                 f"use one of {', '.join(LLM_TEACHERS)}")
    return LLM_TEACHERS[cfg.provider](spec, cfg, seed, cache_dir, prompt)


def make_teacher(spec: TaskSpec, cfg: TeacherConfig, seed: int, cache_dir: Path | None = None) -> Teacher:
    """The teacher `teacher.provider` names: the offline template grammar (the default) or an LLM."""
    if cfg.provider == "template":
        return TemplateTeacher(spec, seed, cfg.template_draw, cfg.template_extras)
    return llm_teacher(spec, cfg, seed, cache_dir)
