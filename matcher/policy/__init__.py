"""Policy: the weights and thresholds of scoring and the solver's settings, from a TOML file.

The shipped default is ``default.toml`` beside this module. A policy file may set any subset of
the keys; the rest keep their defaults. Unknown keys are errors (a typo must not pass silently).
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from matcher.errors import InputError, Problem

#: Upper bounds of every number in a policy whose key documents none of its own (docs/security.md,
#: limits): decimals at most MAX_DECIMAL, whole numbers at most MAX_WHOLE (counts, iterations,
#: pairs: within a 32-bit integer), every number finite. Values this large are already absurd
#: (a weight of 10^6 against 0.35; 10^9 iterations); beyond them sums overflow and solvers fail.
MAX_DECIMAL = 1e6
MAX_WHOLE = 10**9


def _upper(field: FieldInfo) -> float | None:
    """The field's own upper bound (le / lt), if it has one."""
    for m in field.metadata:
        for attr in ("le", "lt"):
            bound = getattr(m, attr, None)
            if bound is not None:
                return float(bound)
    return None


class BoundError(ValueError):
    """A number in a policy that is not finite or is out of bounds: `code` and `params` say so
    for translation (matcher.i18n.PROBLEM_MESSAGES); `key` is the path inside a table."""

    def __init__(self, code: str, message: str, params: dict[str, str],
                 key: str | None = None) -> None:
        super().__init__(message)
        self.code, self.params, self.key = code, params, key

    def inside(self, key: str) -> BoundError:
        return BoundError(self.code, str(self), self.params,
                          key if self.key is None else f"{key}.{self.key}")


def check_number(value: Any, maximum: float | None = None) -> Any:
    """`value` if every number in it (also inside a table or a list) is finite and at most the
    bound; BoundError saying which otherwise. Booleans and text pass as they are."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        for k, v in value.items():
            try:
                check_number(v, maximum)
            except BoundError as exc:
                raise exc.inside(str(k)) from None
        return value
    if isinstance(value, (list, tuple)):
        for v in value:
            check_number(v, maximum)
        return value
    if isinstance(value, int):
        cap = MAX_WHOLE if maximum is None else maximum
        if abs(value) > cap:
            params = {"cap": f"{cap:,.0f}", "value": _short(value)}
            raise BoundError("policy_whole_too_large", "must be a whole number of at most "
                             "{cap} in size, got {value}".format(**params), params)
    elif isinstance(value, float):
        cap = MAX_DECIMAL if maximum is None else maximum
        if not math.isfinite(value):
            raise BoundError("policy_not_finite", f"must be a finite number, got {value}",
                             {"value": str(value)})
        if abs(value) > cap:
            params = {"cap": f"{cap:g}", "value": f"{value:g}"}
            raise BoundError("policy_too_large", "must be at most {cap} in size, got "
                             "{value}".format(**params), params)
    return value


def _short(value: int) -> str:
    text = str(value)
    return text if len(text) <= 24 else f"{text[:6]}...({len(text)} digits)"


class _Strict(BaseModel):
    # allow_inf_nan=False: inf and nan are refused wherever a decimal is read
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _bounded(cls, v: Any, info: ValidationInfo) -> Any:
        """Every number finite and within bounds, before its own checks (so 10**30 is not read
        into a float first, and a key with no upper bound of its own gets the common one)."""
        field = cls.model_fields[info.field_name] if info.field_name else None
        if field is None or (isinstance(field.annotation, type)
                             and issubclass(field.annotation, BaseModel)):
            return v  # a table of its own: its keys are checked there
        own = _upper(field)
        try:
            return check_number(v, own if own is not None and own > MAX_DECIMAL else None)
        except BoundError as exc:  # its code and parameters kept for translation
            raise PydanticCustomError(exc.code, "{text}", {
                "text": str(exc), "key": exc.key, **exc.params}) from None


class Weights(_Strict):
    skills: float = Field(ge=0)
    sector: float = Field(ge=0)
    hours: float = Field(ge=0)
    travel: float = Field(ge=0)
    language: float = Field(ge=0)

    def as_dict(self) -> dict[str, float]:
        return self.model_dump()


class SectorPolicy(_Strict):
    rank_scores: tuple[float, ...] = Field(min_length=1)
    unwished: float = Field(ge=0, le=1)
    no_wishes: float = Field(ge=0, le=1)

    @field_validator("rank_scores")
    @classmethod
    def _in_unit(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(x < 0 or x > 1 for x in v):
            raise ValueError("every rank score must be between 0 and 1")
        return v


class LanguagePolicy(_Strict):
    at_minimum: float = Field(ge=0, le=1)
    per_level: float = Field(ge=0, le=1)


class ObjectivePolicy(_Strict):
    match_bonus: float = Field(ge=0, le=100)
    # Rounds with --previous only (matcher.stability): added to the weight of each person's
    # previous proposal; 0 keeps nobody on purpose (the round without --previous).
    stability_bonus: float = Field(default=0.1, ge=0, le=100)


class EligibilityPolicy(_Strict):
    max_options_per_candidate: int = Field(ge=0)
    # Threads scoring the chunks of candidates (> 1: instead of a process mapper; the table is
    # the same with any number).
    score_threads: int = Field(default=1, ge=1, le=64)


class QuotaSettings(_Strict):
    """The class-quota flows after the Lagrangian search (`matcher.solver.quota_flow`): ``[solver.quota]``."""

    rounds: int = Field(ge=0)
    core: int = Field(ge=0)


class LagrangianSettings(_Strict):
    """The Lagrangian method (`matcher.solver.lagrangian`): ``[solver.lagrangian]``."""

    iterations: int = Field(ge=0)
    step: Literal["polyak", "rprop"]
    start_search: int = Field(ge=0)
    rate_div: int = Field(ge=1)
    level_div: int = Field(ge=1)
    core: int = Field(ge=1)
    core_refresh: int = Field(ge=1)
    patience: int = Field(ge=1)
    repair_every: int = Field(ge=1)
    stall_window: int = Field(ge=1)
    full_every: int = Field(ge=0)
    auction_min_pairs: int = Field(ge=0)
    auction_threads: int = Field(ge=1, le=64)
    auction_search_shift: int = Field(ge=1, le=16)
    start_search_shift: int = Field(ge=0, le=16)


class PolishSettings(_Strict):
    """The CP-SAT polish windows (`matcher.solver.polish`): ``[solver.polish]``."""

    core: int = Field(ge=0)
    union: bool
    max_pairs: int = Field(ge=0)
    deterministic_time: float = Field(ge=0)
    parallel: int = Field(ge=1)
    passes: int = Field(ge=1)
    slack_max_pairs: int = Field(default=0, ge=0)
    slack_deterministic_time: float = Field(default=0.0, ge=0)


class WarmSettings(_Strict):
    """A warm-started solve (`matcher.solver.warm`, what-if scenarios): ``[solver.warm]``."""

    iterations: int = Field(ge=0)
    step_shift: int = Field(ge=0, le=62)
    polish_deterministic_time: float = Field(ge=0)


class DecomposeSettings(_Strict):
    """Solving by region (`matcher.solver.decompose`): ``[solver.decompose]``."""

    min_pairs: int = Field(ge=0)
    rounds: int = Field(ge=1)
    sweeps: int = Field(ge=0)
    pass_sweeps: int = Field(default=-1, ge=-1)
    auction_iterations: int = Field(ge=0)
    auction_step: Literal["sign", "polyak"]
    auction_theta: float = Field(gt=0, le=2)
    auction_threads: int = Field(ge=1, le=64)
    auction_search_shift: int = Field(ge=1, le=16)
    auction_last: bool = False
    auction_core: int = Field(default=0, ge=0)
    quota_core: int = Field(ge=0)
    part_pairs: int = Field(ge=0)
    slack_max_pairs: int = Field(default=0, ge=0)
    slack_deterministic_time: float = Field(default=0.0, ge=0)


class SolverPolicy(_Strict):
    exact_max_pairs: int = Field(ge=0)
    prove_max_pairs: int = Field(ge=0)
    exact_max_nodes: int = Field(default=2000, ge=1)
    max_deterministic_time: float = Field(gt=0)
    relative_gap: float = Field(ge=0, lt=1)
    target_gap: float = Field(ge=0, lt=1)
    lagrangian: LagrangianSettings
    quota: QuotaSettings
    polish: PolishSettings
    warm: WarmSettings
    decompose: DecomposeSettings
    # [solver.parts]: solver settings for the parts of a round solved by region only (any key or
    # table of [solver] except [solver.decompose], e.g. [solver.parts.lagrangian]); the rest of
    # the round keeps the table's own.
    parts: dict[str, Any] = Field(default_factory=dict)

    @field_validator("parts")
    @classmethod
    def _part_settings(cls, v: dict[str, Any]) -> dict[str, Any]:
        problems: list[str] = []
        out: dict[str, Any] = {}
        for key in sorted(v):
            field = cls.model_fields.get(key)
            if field is None or key in ("parts", "decompose"):
                problems.append(f"{key}: not a setting a part's solve uses")
                continue
            table = field.annotation
            if not (isinstance(table, type) and issubclass(table, BaseModel)):
                _check_setting(problems, out, key, field, v[key])
            elif not isinstance(v[key], dict):
                problems.append(f"{key}: a table of settings ([solver.parts.{key}])")
            else:
                sub: dict[str, Any] = {}
                for name in sorted(v[key]):
                    if name not in table.model_fields:
                        problems.append(f"{key}.{name}: not a setting a part's solve uses")
                    else:
                        _check_setting(problems, sub, f"{key}.{name}",
                                       table.model_fields[name], v[key][name], name)
                out[key] = sub
        if problems:
            raise ValueError("; ".join(problems))
        return out

    def updated(self, **changes: Any) -> SolverPolicy:
        """A copy with `changes`: a table's as a mapping (``lagrangian={"iterations": 2}``), a
        setting of [solver] itself as its value. Like ``model_copy``, not validated again (the
        values are the solver's own); an unknown key is an error."""
        update: dict[str, Any] = {}
        for key, value in changes.items():
            current = getattr(self, key)  # AttributeError for an unknown table or key
            if isinstance(current, BaseModel):
                unknown = set(value) - set(type(current).model_fields)
                if unknown:
                    raise AttributeError(f"solver.{key} has no {', '.join(sorted(unknown))}")
                update[key] = current.model_copy(update=value)
            else:
                update[key] = value
        return self.model_copy(update=update)

    def for_parts(self) -> SolverPolicy:
        """These settings with [solver.parts] applied (what each part of a round solved by
        region is solved with)."""
        if not self.parts:
            return self
        return SolverPolicy.model_validate(_merge(self.model_dump(), self.parts) | {"parts": {}})


def _check_setting(problems: list[str], out: dict[str, Any], label: str, field: FieldInfo,
                   value: Any, name: str | None = None) -> None:
    """`value` validated as `field` (its type with its constraints) into ``out[name]``, or a
    problem naming `label`."""
    form: Any = field.annotation
    if field.metadata:
        form = Annotated[(form, *field.metadata)]
    try:
        out[name or label] = TypeAdapter(form).validate_python(value)
    except ValidationError as exc:
        problems.append(f"{label}: {exc.errors()[0]['msg']}")


#: The solver's tables and the prefix their settings had in the flat layout before issue #26
#: (``lagrangian_iterations`` is now ``[solver.lagrangian] iterations``).
SOLVER_TABLES = {"lagrangian": "lagrangian_", "quota": "quota_flow_", "polish": "polish_",
                 "warm": "warm_", "decompose": "decompose_"}


def nested_key(flat: str) -> tuple[str, str] | None:
    """Where a setting of the flat solver layout lives now: (table, key), or None when `flat`
    was not a flat table setting."""
    for table, prefix in SOLVER_TABLES.items():
        model = SolverPolicy.model_fields[table].annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        if flat.startswith(prefix) and flat[len(prefix):] in model.model_fields:
            return table, flat[len(prefix):]
    return None


def nest_solver_keys(data: dict[str, Any]) -> dict[str, Any]:
    """The documented translation of the flat solver layout (before issue #26) into the nested
    one: a copy of `data` (a policy or overrides of one) whose ``solver`` and ``solver.parts``
    flat keys (``lagrangian_iterations``) are moved into their tables (``lagrangian.iterations``).
    Nested keys pass unchanged. For policies stored with earlier API rounds and flat overrides
    sent to the API; a policy file must use the nested layout (`flat_solver_keys`)."""
    solver = data.get("solver")
    if not isinstance(solver, dict):
        return data
    def nest(table: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in table.items():
            where = nested_key(key)
            if where is None:
                out[key] = _merge(out[key], value) if isinstance(out.get(key), dict) and \
                    isinstance(value, dict) else value
            else:
                out.setdefault(where[0], {})[where[1]] = value
        return out
    nested = nest(solver)
    if isinstance(nested.get("parts"), dict):
        nested["parts"] = nest(nested["parts"])
    return data | {"solver": nested}


def flat_solver_keys(data: dict[str, Any]) -> list[Problem]:
    """A problem per flat-layout solver key in `data` (a policy file), naming its new place."""
    solver = data.get("solver")
    if not isinstance(solver, dict):
        return []
    out = []
    tables = [("solver", solver)]
    if isinstance(solver.get("parts"), dict):
        tables.append(("solver.parts", solver["parts"]))
    for where, table in tables:
        for key in table:
            if (new := nested_key(key)) is not None:
                out.append((where, key, new))
    return [Problem("policy", None, f"{where}.{key}",
                    f"moved: write it as [{where}.{table}] {name} (the solver's settings are "
                    f"grouped in tables since issue #26)") for where, key, (table, name) in out]


class FairnessPolicy(_Strict):
    min_rate: dict[str, float] = Field(default_factory=dict)
    max_min: bool = False

    @field_validator("min_rate")
    @classmethod
    def _rates(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k, r in v.items() if not 0 <= r <= 1]
        if bad:
            raise ValueError(f"minimum rates must be between 0 and 1 (check {', '.join(bad)})")
        return dict(sorted(v.items()))

    @property
    def active(self) -> bool:
        return bool(self.min_rate) or self.max_min


class ChainPolicy(_Strict):
    """The participation chain's objective terms and the exact chain model's limits
    (:mod:`matcher.chain`)."""

    place_share: float = Field(default=0.5, ge=0, le=1)
    guarantee_bonus: float = Field(default=0.25, gt=0, le=1)
    exact_max_variables: int = Field(default=50_000, ge=1)
    max_nodes: int = Field(default=200_000, ge=1)


class ShortlistPolicy(_Strict):
    max_open_shortlists: int = Field(default=3, ge=1)
    open_days: int = Field(default=14, ge=1)


class Policy(_Strict):
    weights: Weights
    sector: SectorPolicy
    language: LanguagePolicy
    objective: ObjectivePolicy
    eligibility: EligibilityPolicy
    solver: SolverPolicy
    fairness: FairnessPolicy = Field(default_factory=FairnessPolicy)
    shortlist: ShortlistPolicy = ShortlistPolicy()
    chain: ChainPolicy = ChainPolicy()

    @field_validator("weights")
    @classmethod
    def _some_weight(cls, v: Weights) -> Weights:
        if sum(v.as_dict().values()) <= 0:
            raise ValueError("at least one weight must be positive")
        return v

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    @property
    def hash(self) -> str:
        """SHA-256 of the resolved policy (defaults filled in), recorded with every round."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def _default_dict() -> dict[str, Any]:
    text = resources.files("matcher.policy").joinpath("default.toml").read_text("utf-8")
    return tomllib.loads(text)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def policy_from_dict(data: dict[str, Any], source: str = "policy") -> Policy:
    """Defaults overridden by `data`; raises InputError naming each bad key (a key of the flat
    solver layout names its new place; `nest_solver_keys` translates them)."""
    if moved := flat_solver_keys(data):
        raise InputError(Problem(source, None, p.column, p.message) for p in moved)
    try:
        return Policy.model_validate(_merge(_default_dict(), data))
    except ValidationError as exc:
        raise InputError(_problem(source, err) for err in exc.errors()) from None


#: pydantic's error types -> (problem code, the parameter its limit is in)
_PYDANTIC_CODES = {"greater_than_equal": ("policy_at_least", "ge"),
                   "greater_than": ("policy_above", "gt"),
                   "less_than_equal": ("policy_at_most", "le"), "less_than": ("policy_below", "lt"),
                   "extra_forbidden": ("policy_unknown_key", None),
                   "finite_number": ("policy_not_finite", None),
                   "float_parsing": ("policy_not_number", None),
                   "float_type": ("policy_not_number", None),
                   "int_parsing": ("policy_not_whole", None), "int_type": ("policy_not_whole", None),
                   "int_from_float": ("policy_not_whole", None)}


def _problem(source: str, err: Any) -> Problem:
    """One policy problem, with a code and parameters its text is translated from."""
    column = ".".join(str(p) for p in err["loc"])
    message = err["msg"].removeprefix("Value error, ")
    ctx = dict(err.get("ctx") or {})
    if err["type"].startswith("policy_"):
        key = ctx.pop("key", None)
        ctx.pop("text", None)
        return Problem(source, None, f"{column}.{key}" if key else column, message,
                       code=err["type"], params=ctx)
    known = _PYDANTIC_CODES.get(err["type"])
    if known is None:
        return Problem(source, None, column, message)
    code, limit = known
    params = {"value": repr(err.get("input"))}
    if limit is not None:
        params["limit"] = str(ctx.get(limit))
    return Problem(source, None, column, message, code=code, params=params)


def policy_from_flat(data: dict[str, Any], source: str = "policy") -> Policy:
    """`policy_from_dict` after `nest_solver_keys`: a policy or overrides in either layout (a
    round's overrides sent to the API, a policy stored with an earlier API round)."""
    return policy_from_dict(nest_solver_keys(data), source)


def stored_policy(data: dict[str, Any]) -> Policy:
    """A resolved policy stored with a round (its JSON dump), in either solver layout: the
    defaults are not merged in (a stored policy is complete)."""
    return Policy.model_validate(nest_solver_keys(data))


def default_policy() -> Policy:
    return policy_from_dict({}, "default.toml")


def load_policy(path: Path | None) -> Policy:
    """The policy in `path` (a TOML file), or the shipped default when `path` is None."""
    if path is None:
        return default_policy()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise InputError([Problem(path.name, None, None, "policy file not found")]) from None
    except UnicodeDecodeError as exc:
        raise InputError([Problem(path.name, None, None,
                                  f"policy file is not UTF-8 text ({exc.reason} at byte "
                                  f"{exc.start})")]) from None
    except IsADirectoryError:
        raise InputError([Problem(path.name, None, None, "is a folder, not a policy file")]) \
            from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError([Problem(path.name, None, None, f"not valid TOML: {exc}")]) from None
    return policy_from_dict(data, path.name)
