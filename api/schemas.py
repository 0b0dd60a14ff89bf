"""Request (Create) and response (Public) models. Requests refuse unknown fields (422);
responses list their fields explicitly, so nothing else (e.g. protected attributes) can leak."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from api.limits import MAX_ID, MAX_K, MAX_ROWS

MAX_OFFSET_K = 10_000  # a shortlist's offset: beyond any option's eligible candidates

Cell = str | int | float | bool | None
Rows = list[dict[str, Cell]]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Public(BaseModel):
    model_config = ConfigDict(extra="ignore")


# ---- imports -------------------------------------------------------------------------------
class ImportCreate(Request):
    """Tables as lists of rows (field -> value). Any subset of tables; validated whole."""

    mode: Literal["merge", "replace"] = Field(
        "merge", description="merge: rows replace stored rows with the same id, others stay; "
                             "replace: each given table replaces the stored table.")
    organisations: Rows | None = Field(None, max_length=MAX_ROWS)
    options: Rows | None = Field(None, max_length=MAX_ROWS)
    candidates: Rows | None = Field(None, max_length=MAX_ROWS)
    routes: Rows | None = Field(None, max_length=MAX_ROWS, description="routes.csv: "
                                "programme_id, place_id, seats (the participation chain)")
    protected: Rows | None = Field(None, max_length=MAX_ROWS)
    decisions: Rows | None = Field(None, max_length=MAX_ROWS)


class ProblemPublic(Public):
    table: str
    row: int | None = Field(None, description="CSV: spreadsheet row (header = 1). JSON: None.")
    index: int | None = Field(None, description="JSON: 0-based position in the table's list.")
    field: str | None
    message: str


class ImportPublic(Public):
    id: int
    at: str
    mode: str
    counts: dict[str, int]
    content_hash: str
    warnings: list[ProblemPublic] = []


class ErrorPublic(Public):
    """422: request validation (detail is a list) or refused content (problems name row/field)."""

    detail: str | list[Any]
    problems: list[ProblemPublic] = []


# ---- stored data (pseudonymous fields only) ---------------------------------------------
def _number(value: Any) -> Any:
    """A stored cell (text, as imported: decimal comma allowed) as a number; '' as None."""
    if not isinstance(value, str):
        return value
    text = value.strip().replace(",", ".")
    if not text:
        return None
    number = float(text)
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() \
        else number


Int = Annotated[int, BeforeValidator(_number)]
Num = Annotated[float, BeforeValidator(_number)]
OptNum = Annotated[float | None, BeforeValidator(_number)]


class OrganisationPublic(Public):
    organisation_id: str
    name: str
    kind: str
    guidance_capacity: Int


class OptionPublic(Public):
    option_id: str
    organisation_id: str
    name: str = ""
    kind: str
    sector: str
    capacity: Int
    hours_min: Num
    hours_max: Num
    min_dutch_level: str
    skills: str
    lat: OptNum = None
    lon: OptNum = None
    postcode: str = ""


class CandidatePublic(Public):
    candidate_id: str
    skills: str
    sectors: str
    hours_available: Num
    dutch_level: str
    guidance_need: Int
    max_travel_km: Num
    lat: OptNum = None
    lon: OptNum = None
    postcode: str = ""


class ProtectedPublic(Public):
    candidate_id: str
    attributes: dict[str, str]


T = TypeVar("T")


class Page(Public, Generic[T]):
    total: int
    offset: int
    limit: int
    items: list[T]


# ---- rounds ----------------------------------------------------------------------------------
class RoundCreate(Request):
    kind: Literal["official", "scenario"] = Field(
        "official", description="official rounds can be decided on; scenarios are what-ifs.")
    policy: dict[str, Any] | None = Field(
        None, description="Overrides of the server policy, e.g. {\"weights\": {\"skills\": 0.5}}.")
    note: str | None = Field(None, max_length=500)
    previous_round_id: int | None = Field(
        default=None, ge=1, le=MAX_ID,
        description="A round that stays stable: everyone keeps the proposal this finished round "
                    "made them while it is still possible, unless moving people gains more than "
                    "objective.stability_bonus per person moved (as matcher run --previous); "
                    "the round's `stability` says who kept and who moved.")


class ProgressPublic(Public):
    stage: str = Field(description="The solve's current phase (score, solve, part, write...).")
    done: int
    total: int
    fraction: float | None = Field(
        None, ge=0, le=1, description="The whole job's progress so far (0..1), as in GET /v1/jobs/{id}.")


class JobPublic(Public):
    """The round's job in the durable queue (every round has one; small rounds run in the
    request that made them)."""

    id: int | None = Field(None, description="The job's id: poll GET /v1/jobs/{id} for its progress.")
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    attempts: int = Field(description="Claims so far (a worker killed while running it counts).")
    max_attempts: int
    cancel_requested: bool
    progress: ProgressPublic | None = Field(
        None, description="Latest progress a running job reported (renewed every heartbeat).")
    reason: str | None = Field(None, description="Why it failed or was cancelled.")


class JobStatusPublic(Public):
    """A job in the durable queue, as a page polls it to show live progress."""

    id: int
    kind: Literal["round", "whatif"] = Field(
        description="What the job computes: a round (its result is the round `round_id`) or a "
                    "what-if (its result is `GET /v1/whatif/{whatif_id}`).")
    round_id: int | None = None
    whatif_id: int | None = None
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    stage: str = Field(description="queued, starting, then score, solve, bound, write (a round) "
                                   "or baseline, scenario, sweep, write (a what-if), then done, "
                                   "failed or cancelled.")
    progress: float = Field(ge=0, le=1, description="0..1; 1 when done; never goes back within an "
                                                    "attempt (a rough guide, not a time estimate).")
    error: str | None = Field(None, description="Why it failed or was cancelled.")
    attempts: int
    max_attempts: int
    cancel_requested: bool
    created_at: str
    updated_at: str


Spec = Annotated[str, Field(min_length=3, max_length=500)]


class WhatIfSweepCreate(Request):
    set: Spec = Field(description="The field swept: TABLE.ID.FIELD (ID may be `*`: each row in "
                                  "turn) or policy.SECTION.KEY, as `matcher whatif --sweep`.")
    values: Annotated[str, Field(min_length=1, max_length=500)] | list[
        Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        description="`+0..+10` (inclusive, relative), `0..10`, `+1,+2,+5`, or a list.")
    name: str | None = Field(None, min_length=1, max_length=200)


class WhatIfCreate(Request):
    """A planner's what-if: a scenario's edits and/or a sweep, against the data in force now."""

    name: str = Field("what if", min_length=1, max_length=200)
    sets: list[Spec] = Field(default_factory=list, max_length=50, description=(
        "Edits as `matcher whatif --set`: TABLE.ID.FIELD=VALUE or policy.SECTION.KEY=VALUE; "
        "+N/-N is relative."))
    sweep: WhatIfSweepCreate | None = None


class WhatIfPublic(Public):
    """A what-if job and, once done, its report (``report.json`` of `matcher whatif`)."""

    id: int
    name: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    stage: str
    created_at: str
    finished_at: str | None
    input_hash: str
    policy_hash: str
    sets: list[str]
    sweep: dict[str, Any] | None
    job: JobStatusPublic | None
    problems: list[dict[str, Any]]
    plots: list[str] = Field(description="Plot names: GET /v1/whatif/{id}/plots/{name}.png")
    report: dict[str, Any] | None


class RoundPublic(Public):
    id: int
    kind: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    stage: str
    created_at: str
    finished_at: str | None
    input_hash: str = Field(description="SHA-256 of the stored snapshot of the round's inputs.")
    instance_hash: str | None = Field(
        None, description="SHA-256 of the parsed input, the same as `input_hash` in round.json of "
                          "`matcher run` on the same data: lets an auditor re-run a round from files.")
    policy_hash: str
    solver_status: str | None
    method: str | None
    objective: float | None
    bound: float | None
    gap: float | None
    counts: dict[str, Any] | None = None
    warnings: list[str] = []
    problems: list[ProblemPublic] = []
    stability: dict[str, Any] | None = Field(
        None, description="A round with previous_round_id: who kept their proposal and who "
                          "moved (kept, moved, moved_by_reason, stability_bonus).")
    job: JobPublic | None = None


class AssignmentPublic(Public):
    candidate_id: str
    option_id: str
    organisation_id: str
    score: float
    locked: bool
    main_reason: str
    reasons: str
    next_option_id: str = Field("", description="The guaranteed follow-on place of a proposed "
                                                "route ('' when none).")


class UnmatchedPublic(Public):
    candidate_id: str
    reason: str
    detail: str
    eligible_options: int


class UtilisationPublic(Public):
    level: str
    id: str
    organisation_id: str
    seats: int
    seats_used: int
    guidance_capacity: int | None
    guidance_used: int


class ExplanationPublic(Public):
    round_id: int
    candidate_id: str = Field(description="The person's pseudonym.")
    status: Literal["matched", "unmatched"]
    option_id: str | None = Field(description="The proposed option (null when unmatched).")
    alternative_option_id: str | None = Field(
        description="The best option the person did not get (null when there was none).")
    text: str = Field(description="The explanation in plain words, as `matcher explain` gives it: "
                                  "why this match (or why none), the best option not chosen and "
                                  "why, and what one change would open.")


# ---- decisions --------------------------------------------------------------------------------
class DecisionCreate(Request):
    candidate_id: str = Field(min_length=1, max_length=200)
    option_id: str = Field(min_length=1, max_length=200)
    kind: Literal["accept", "reject", "lock", "forbid", "release"]
    reason: str = Field(min_length=1, max_length=2000, description="Always required.")
    round_id: int | None = Field(None, ge=1, le=MAX_ID, description="Required for accept and reject: the "
                                                          "round whose proposal is decided on.")
    next_option_id: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="A decision on a whole route: option_id is the programme, this its "
                    "follow-on place (routes.csv). Accept/reject take the round's proposed "
                    "route when left out.")


class DecisionPublic(Public):
    id: int
    at: str
    key_id: int | None
    candidate_id: str
    option_id: str
    kind: str
    reason: str
    round_id: int | None
    source: str
    next_option_id: str


class InForcePublic(Public):
    candidate_id: str
    option_id: str
    decision: str
    reason: str
    next_option_id: str = ""


# ---- shortlists -------------------------------------------------------------------------------
class ScoreComponents(Public):
    skills: float
    sector: float
    hours: float
    travel: float
    language: float


class ShortlistEntryPublic(Public):
    rank: int
    candidate_id: str
    score: float
    components: ScoreComponents
    main_reason: str
    reasons: str
    other_open_shortlists: int = Field(
        description="On how many open shortlists of other options this candidate stands.")
    locked_here: bool


LEVELS = Literal["A0", "A1", "A2", "B1", "B2", "C1", "C2", "1F", "2F", "3F"]


class ShortlistCreate(Request):
    """What to issue: how many, from which rank on, and the service point's filters.

    The same fields may be given as query parameters instead (not both)."""

    k: int = Field(10, ge=1, le=MAX_K, description="How many candidates (at most).")
    offset: int = Field(0, ge=0, le=MAX_OFFSET_K,
                        description="Skip this many of the best (paging: k=10&offset=10 gives "
                                    "ranks 11-20 of the candidates that may be put forward).")
    max_km: float | None = Field(None, gt=0, le=1000,
                                 description="At most this far from the option (km).")
    min_hours: float | None = Field(None, ge=0, le=168,
                                    description="Can work at least this many hours a week now.")
    min_dutch_level: LEVELS | None = Field(None, description="Dutch level at least this.")
    sector: str | None = Field(None, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$",
                               description="Lists this sector among their wishes.")
    available_by: date | None = Field(
        None, description="Can start on or before this date (candidates.csv `available_from`; "
                          "empty means now).")


class ShortlistStatusPublic(Public):
    status: Literal["open", "closed", "expired"]
    closed_at: str | None


FEEDBACK_KINDS = Literal["invited", "not_suitable", "hired", "withdrawn"]
#: Why a candidate was not suitable (``not_suitable`` needs one; ``other`` needs a note too).
NOT_SUITABLE_REASONS = Literal["skills", "experience", "language", "hours", "travel",
                               "availability", "no_show", "not_interested", "other"]


class FeedbackCreate(Request):
    """What happened to one candidate of a shortlist."""

    candidate_id: str = Field(min_length=1, max_length=200,
                              description="A candidate on this shortlist.")
    kind: FEEDBACK_KINDS = Field(description=(
        "invited (keeps the cap slot), not_suitable (needs reason_code; frees the slot), "
        "hired (a report: the person leaves other open shortlists and is put forward nowhere "
        "else until a coordinator rejects the report; a lock only when a coordinator confirms "
        "it), withdrawn (the candidate withdrew; frees the slot)."))
    reason_code: NOT_SUITABLE_REASONS | None = Field(
        None, description="not_suitable only, and required there.")
    note: str = Field("", max_length=2000, description="Free text (required with reason "
                                                       "code `other`).")


class FeedbackResolve(Request):
    """A coordinator's confirmation or rejection of a reported hire."""

    reason: str = Field(min_length=1, max_length=2000, description="Always required.")


class FeedbackPublic(Public):
    id: int
    candidate_id: str
    kind: FEEDBACK_KINDS
    reason_code: str | None
    note: str
    at: str
    confirmed_decision_id: int | None = Field(
        None, description="hired: the coordinator's lock decision confirming it (null: reported "
                          "by the service point only).")
    resolution: Literal["confirmed", "rejected"] | None = Field(
        None, description="hired: how a coordinator resolved the report (null: pending).")
    resolved_at: str | None = None
    resolution_reason: str | None = None


class FeedbackGiven(FeedbackPublic):
    shortlist_id: int
    left_shortlists: list[int] = Field(
        default_factory=list, description="hired: the other open shortlists the person left.")


class ShortlistPublic(Public):
    id: int
    option_id: str
    organisation_id: str
    k: int
    offset: int = 0
    filters: dict[str, float | str | None] = Field(
        default_factory=dict, description="The filters given (max_km, min_hours, "
                                          "min_dutch_level, sector, available_by).")
    issued_at: str
    open_until: str
    max_open_shortlists: int
    entries: list[ShortlistEntryPublic]
    status: Literal["open", "closed", "expired"] = "open"
    closed_at: str | None = None
    feedback: list[FeedbackPublic] = []
    left: list[str] = Field(
        default_factory=list, description="Candidates of this open shortlist who no longer hold "
        "a place on it (not suitable, withdrawn, or reported hired elsewhere).")


class ShortlistClosed(Public):
    id: int
    closed_at: str


# ---- outcomes -----------------------------------------------------------------------------------
OUTCOME_EVENTS = Literal["started", "dropped_out", "in_work_3m", "in_work_6m"]


class OutcomeCreate(Request):
    """What happened after a placement (the columns of outcomes.csv)."""

    candidate_id: str = Field(min_length=1, max_length=200)
    option_id: str = Field(min_length=1, max_length=200)
    event: OUTCOME_EVENTS = Field(description="started, dropped_out (say why in `reason`), "
                                              "in_work_3m or in_work_6m (still in work 3 / 6 "
                                              "months after starting).")
    date: date
    reason: str = Field("", max_length=2000)


class OutcomePublic(Public):
    id: int
    candidate_id: str
    option_id: str
    event: OUTCOME_EVENTS
    date: str
    reason: str
    at: str
    source: str


class OutcomesImported(Public):
    recorded: int


# ---- audit --------------------------------------------------------------------------------------
class AuditRecordPublic(Public):
    seq: int
    at: str
    key_id: int | None
    action: str
    target: str
    input_hash: str
    output_hash: str
    policy_hash: str
    versions: str
    prev_hash: str
    hash: str
    record_version: int | None = Field(
        None, description="None: version 1 (before request ids); 2: the hash covers request_id.")
    request_id: str | None = Field(
        None, description="The request that made the record (X-Request-ID; also in the logs).")


class ChainPublic(Public):
    ok: bool
    records: int
    first_broken: int | None
    problem: str | None
