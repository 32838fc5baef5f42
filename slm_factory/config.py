"""params.yaml as typed config: one pydantic model per params group, validated once when a stage loads.

Defaults live only in params.yaml: no field here has one, so a key missing from the file is an
error, not a silent fallback that drifts from what `dvc params diff` shows. A stage validates the
groups it declares in dvc.yaml (`load(path, groups)`), so a bad value stops it before any work with
one line naming the key; keys this module does not know are refused too (a typo is not ignored).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Positive = Field(gt=0)
Fraction = Field(ge=0, le=1)


class Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Teacher(Group):
    provider: Literal["template", "anthropic", "openai", "openai_compatible"]
    model: str | None
    base_url: str | None
    api_key_env: str | None
    mode: Literal["online", "batch", "native_tools"]
    temperature: float = Field(ge=0, le=2)
    max_tokens: int = Positive
    rows_per_request: int = Positive
    concurrency: int = Positive
    requests_per_minute: float | None = Field(gt=0)
    tokens_per_minute: float | None = Field(gt=0)
    max_retries: int = Field(ge=0)
    timeout_s: float = Positive
    max_cost_usd: float | None = Field(ge=0)
    batch_poll_s: float = Positive
    http_client: Literal["aiohttp", "httpx"]

    @model_validator(mode="after")
    def _model_for_llm(self) -> "Teacher":
        if self.provider != "template" and not self.model:
            raise ValueError(f"teacher.model is required with provider {self.provider!r}")
        return self


class Generate(Group):
    batch_size: int = Positive


class Judge(Group):
    provider: Literal["anthropic", "openai", "openai_compatible"] | None
    model: str | None
    base_url: str | None
    concurrency: int = Positive
    max_tokens: int = Positive


class Validate(Group):
    min_user_chars: int = Field(ge=0)
    max_line_bytes: int = Positive
    pii: Literal["mask", "reject", "off"]
    pii_region: str = Field(pattern=r"^[A-Z]{2}$")  # where numbers without a country code are dialled
    judge: Judge


class Dedupe(Group):
    minhash_threshold: float = Fraction
    num_perm: int = Positive
    shingle_size: int = Positive
    semantic: bool
    semantic_threshold: float = Fraction
    embedding_model: str


class Split(Group):
    train: float = Fraction
    dev: float = Fraction
    test: float = Fraction
    cluster_threshold: float = Fraction

    @model_validator(mode="after")
    def _sums_to_one(self) -> "Split":
        if abs(self.train + self.dev + self.test - 1.0) > 1e-6:
            raise ValueError(f"split.train + split.dev + split.test must be 1, got "
                             f"{self.train + self.dev + self.test:g}")
        return self


class Baseline(Group):
    few_shot: int = Field(ge=0)
    max_new_tokens: int = Positive
    batch_size: int = Positive
    limit: int = Field(ge=0)


class Train(Group):
    backend: Literal["auto", "trl", "unsloth"]
    lora_dropout: float = Fraction
    target_modules: list[str] = Field(min_length=1)
    lora_layers: int = Field(ge=0)
    batch_size: int = Positive
    grad_accum: int = Positive
    max_seq_length: int = Positive
    packing: bool
    group_by_length: bool
    padding_free: bool | Literal["auto"]
    gradient_checkpointing: bool
    load_in_4bit: bool
    cpu_dtype: Literal["float32", "bfloat16"]
    num_gpus: int = Positive
    accelerate_config: str | None
    max_steps: int
    eval_every: int = Field(ge=0)
    eval_rows: int = Positive
    warmup_ratio: float = Fraction
    seed: int


class Eval(Group):
    batch_size: int = Positive
    max_new_tokens: int = Positive
    release: bool
    constrained: bool
    limit: int = Field(ge=0)


class Export(Group):
    quantizations: list[str]
    modelfile_quant: str
    max_drop: float = Fraction
    strict: bool
    limit: int = Field(ge=0)
    license: str
    tags: list[str]

    @model_validator(mode="after")
    def _modelfile_quant_made(self) -> "Export":
        if self.modelfile_quant != "f16" and self.modelfile_quant not in self.quantizations:
            raise ValueError(f"export.modelfile_quant {self.modelfile_quant!r} is neither f16 nor one of "
                             f"export.quantizations {self.quantizations}")
        return self


class ExportData(Group):
    formats: Literal["auto"] | list[Literal["openai", "openai_tools", "sharegpt", "alpaca"]]
    openai_max_tokens: int = Positive


class Ingest(Group):
    format: Literal["auto", "openai", "sharegpt", "alpaca", "production"]
    data_type: str
    difficulty: str
    max_line_bytes: int = Positive
    route: Literal["eval_first", "train"]  # production rows: fill the eval set first, or all to training
    eval_quota: int = Field(ge=0)
    reasoning: Literal["last", "all", "none"]  # which assistant turns of a trace keep their reasoning


class AnalyzeErrors(Group):
    cluster_threshold: float = Fraction
    rows_per_cluster: int = Field(ge=0)
    max_examples: int = Field(ge=0)


class Params(Group):
    """The whole file. Groups a stage does not declare may be absent (they are not validated)."""
    task: str | None = None
    seed: int | None = None
    n_examples: int | None = Field(default=None, gt=0)
    repair: bool | None = None
    base_model: str | None = None
    lora_rank: int | None = Field(default=None, gt=0)
    lora_alpha: float | None = Field(default=None, gt=0)
    learning_rate: float | None = Field(default=None, gt=0)
    epochs: float | None = Field(default=None, gt=0)
    teacher: Teacher | None = None
    generate: Generate | None = None
    validate_: Validate | None = Field(default=None, alias="validate")
    dedupe: Dedupe | None = None
    split: Split | None = None
    baseline: Baseline | None = None
    train: Train | None = None
    eval: Eval | None = None
    export: Export | None = None
    export_data: ExportData | None = None
    ingest: Ingest | None = None
    analyze_errors: AnalyzeErrors | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ConfigError(ValueError):
    """params.yaml has a missing, unknown or invalid key; the message names it."""


def _where(loc: tuple) -> str:
    return ".".join("validate" if p == "validate_" else str(p) for p in loc)


def load(path: str | Path, groups: list[str] | tuple[str, ...]) -> Params:
    """Validate the named keys of params.yaml (top-level groups or keys, or `group.key` for one
    key of a group, as dvc.yaml lists them). Raises ConfigError naming the first bad key."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"params file {path} not found")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping of keys to values")
    unknown = sorted(set(raw) - {("validate" if n == "validate_" else n) for n in Params.model_fields})
    if unknown:
        raise ConfigError(f"{path}: unknown key '{unknown[0]}'")
    wanted = {g.split(".")[0] for g in groups}
    for g in sorted(wanted):
        if g not in raw:
            raise ConfigError(f"{path}: missing key '{g}'")
    subset: dict[str, Any] = {k: v for k, v in raw.items() if k in wanted}
    try:
        return Params.model_validate(subset)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        key = _where(err["loc"]) or "(file)"
        got = f" (got {err['input']!r})" if "input" in err and not isinstance(err["input"], dict) else ""
        raise ConfigError(f"{path}: {key}: {err['msg']}{got}") from None
