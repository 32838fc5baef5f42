"""params.yaml as typed config: one pydantic model per params group, validated once when a stage loads.

Defaults live only in params.yaml: no field here has one, so a key missing from the file is an
error, not a silent fallback that drifts from what `dvc params diff` shows. A stage validates the
groups it declares in dvc.yaml (`load(path, declared)`), so a bad value stops it before any work with
one line naming the key; keys this module does not know are refused too (a typo is not ignored).

What `load` returns is typed (`Params`, its groups `Teacher`, `Train`, ...) and holds exactly the
declared keys: reading one the stage did not declare raises `UndeclaredParam`, so dvc.yaml cannot
fall behind the code (a key read but not declared would not rerun the stage when it changes).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

Positive = Field(gt=0)
Fraction = Field(ge=0, le=1)


G = TypeVar("G", bound="Group")


def _field(key: str) -> str:
    """The attribute that holds a params key: `validate` would shadow pydantic's own method."""
    return "validate_" if key == "validate" else key


def _key(field: str) -> str:
    """The params key an attribute holds (the inverse of `_field`)."""
    return "validate" if field == "validate_" else field


class UndeclaredParam(AttributeError):
    """A stage read a params key that its dvc.yaml entry does not declare."""


class Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    if not TYPE_CHECKING:  # pydantic's own __getattr__ is hidden from type checkers the same way
        def __getattr__(self, name: str) -> Any:
            try:
                return super().__getattr__(name)
            except AttributeError:
                if name in type(self).model_fields:
                    key = _key(name)
                    raise UndeclaredParam(f"params key {key!r} ({type(self).__name__}) is not declared for this "
                                          "stage in dvc.yaml; add it to the stage's params") from None
                raise


# how the template teacher draws a request's template and pattern (slm_factory/teachers/template.py)
TemplateDraw = Literal["indexed", "stable"]


class Teacher(Group):
    provider: Literal["template", "anthropic", "openai", "openai_compatible"]
    template_draw: TemplateDraw
    template_extras: list[str] | None  # None: the grammar's default_extras (slm_factory/templates.py)
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
    api_key_env: str | None
    temperature: float = Field(ge=0, le=2)
    concurrency: int = Positive
    max_tokens: int = Positive
    requests_per_minute: float | None = Field(gt=0)
    max_retries: int = Field(ge=0)
    timeout_s: float = Positive
    http_client: Literal["aiohttp", "httpx"]

    def teacher(self) -> Teacher:
        """The judge as a teacher config: one row per request, always online (a verdict is needed
        now, not after a batch window), no budget of its own. Only with a provider set."""
        if self.provider is None:
            raise ValueError("validate.judge.provider is not set: the judge is off")
        return Teacher(provider=self.provider, template_draw="indexed", template_extras=[], model=self.model,
                       base_url=self.base_url, api_key_env=self.api_key_env, mode="online", temperature=self.temperature,
                       max_tokens=self.max_tokens, rows_per_request=1,
                       concurrency=self.concurrency, requests_per_minute=self.requests_per_minute,
                       tokens_per_minute=None, max_retries=self.max_retries, timeout_s=self.timeout_s,
                       max_cost_usd=None, batch_poll_s=60.0, http_client=self.http_client)

    @model_validator(mode="after")
    def _model_for_provider(self) -> "Judge":
        if self.provider is not None and not self.model:
            raise ValueError(f"validate.judge.model is required with provider {self.provider!r}")
        return self


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
    soup_seeds: list[int]

    @model_validator(mode="after")
    def _soup_on_one_device(self) -> "Train":
        if len(set(self.soup_seeds)) != len(self.soup_seeds):
            raise ValueError(f"train.soup_seeds repeats a seed: {self.soup_seeds}")
        if len(self.soup_seeds) == 1:
            raise ValueError("train.soup_seeds averages two or more trainings; for one, set train.seed instead")
        if self.soup_seeds and (self.num_gpus > 1 or self.accelerate_config):
            raise ValueError("train.soup_seeds trains its seeds side by side on one GPU (or in turn on the CPU); "
                             "it cannot be combined with train.num_gpus > 1 or train.accelerate_config")
        return self


class Eval(Group):
    batch_size: int = Positive
    max_new_tokens: int = Positive
    release: bool
    # true: inside the contract's JSON grammar; copy: also copied strings kept substrings of the request
    constrained: bool | Literal["copy"]
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
    group_failure_share: float = Fraction
    group_min_rows: int = Field(ge=1)


class Params(Group):
    """The whole file. `load` validates and keeps only the keys a stage declares."""
    task: str
    seed: int
    n_examples: int = Positive
    repair: bool
    base_model: str
    lora_rank: int = Positive
    lora_alpha: float = Positive
    learning_rate: float = Positive
    epochs: float = Positive
    teacher: Teacher
    generate: Generate
    validate_: Validate = Field(alias="validate")
    dedupe: Dedupe
    split: Split
    baseline: Baseline
    train: Train
    eval: Eval
    export: Export
    export_data: ExportData
    ingest: Ingest
    analyze_errors: AnalyzeErrors

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ConfigError(ValueError):
    """params.yaml has a missing, unknown or invalid key; the message names it."""


def _where(loc: tuple) -> str:
    return ".".join(_key(str(p)) for p in loc)


def _validator(tops: frozenset[str]) -> type[Group]:
    """A model of just these top-level keys, with Params' types and constraints."""
    fields: dict[str, Any] = {_field(k): (Params.model_fields[_field(k)].annotation, Params.model_fields[_field(k)])
                              for k in sorted(tops)}
    return create_model("Params", __base__=Group, **fields)


def load(path: str | Path, declared: list[str] | tuple[str, ...]) -> Params:
    """Validate the declared keys of params.yaml (top-level groups or keys, or `group.key` for one
    key of a group, as dvc.yaml lists them) and return them typed; a declared group is validated
    whole, so a bad sibling of a declared key still stops the stage. Raises ConfigError naming the
    first bad key. Reading an undeclared key of the result raises UndeclaredParam."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"params file {path} not found")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping of keys to values")
    unknown = sorted(set(raw) - {_key(n) for n in Params.model_fields})
    if unknown:
        raise ConfigError(f"{path}: unknown key '{unknown[0]}'")
    tops = frozenset(g.split(".")[0] for g in declared)
    for g in sorted(tops):
        if g not in raw:
            raise ConfigError(f"{path}: missing key '{g}'")
    try:
        full = _validator(tops).model_validate({k: raw[k] for k in tops})
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        key = _where(err["loc"]) or "(file)"
        got = f" (got {err['input']!r})" if "input" in err and not isinstance(err["input"], dict) else ""
        raise ConfigError(f"{path}: {key}: {err['msg']}{got}") from None
    values: dict[str, Any] = {}
    for top in tops:
        value = getattr(full, _field(top))
        if top not in declared:  # only `group.key` entries: a group holding just those keys
            keys = [g.partition(".")[2] for g in declared if g.split(".")[0] == top]
            for k in keys:
                if k not in type(value).model_fields:
                    raise ConfigError(f"{path}: {top}.{k}: declared but not a key of {top}")
            value = type(value).model_construct(**{k: getattr(value, k) for k in keys})
        values[_field(top)] = value
    return Params.model_construct(**values)


def as_dict(model: BaseModel) -> dict[str, Any]:
    """The keys a loaded Params (or group) holds, as plain data with params.yaml's names, for records
    that store them (the run record, the dataset manifest)."""
    return model.model_dump(by_alias=True, exclude_unset=True)


def changed(model: G, **changes: Any) -> G:
    """A validated copy of a whole group (or Params) with `changes` applied: how a benchmark or a test
    varies a setting of the shipped params.yaml without a second source of defaults."""
    return type(model).model_validate({**model.model_dump(), **changes})
