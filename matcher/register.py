"""The entry for the Dutch public algorithm register (Algoritmeregister) and the instructions for use.

Generated from the code and the active policy: the score components come from
:data:`matcher.scoring.components.COMPONENTS`, the hard rules from
:data:`matcher.scoring.eligibility.FILTERS`, the weights and thresholds from the policy, and the
input columns from :data:`INPUTS` below, which tests/test_register.py checks against the columns
the scoring code actually reads (by tracing it), so the register cannot drift from the code.
"""

from __future__ import annotations

from typing import Any

from matcher import __version__
from matcher.i18n import N_, _
from matcher.policy import Policy
from matcher.scoring.components import COMPONENTS
from matcher.scoring.eligibility import FILTERS

#: What each score component and hard rule reads, as (file, column) in the data folder.
INPUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "skills": (("candidates.csv", "skills"), ("options.csv", "skills")),
    "sector": (("candidates.csv", "sectors"), ("options.csv", "sector")),
    "hours": (("candidates.csv", "hours_available"), ("options.csv", "hours_min"),
              ("options.csv", "hours_max")),
    "travel": (("candidates.csv", "max_travel_km"), ("candidates.csv", "location"),
               ("options.csv", "location")),
    "language": (("candidates.csv", "dutch_level"), ("options.csv", "min_dutch_level")),
    "filter:language": (("candidates.csv", "dutch_level"), ("options.csv", "min_dutch_level")),
    "filter:hours": (("candidates.csv", "hours_available"), ("options.csv", "hours_min")),
    "filter:travel": (("candidates.csv", "max_travel_km"), ("candidates.csv", "location"),
                      ("options.csv", "location")),
    "filter:guidance": (("candidates.csv", "guidance_need"), ("options.csv", "organisation_id"),
                        ("organisations.csv", "guidance_capacity")),
    # The solver: seats per option, job-coach capacity per organisation and each person's need.
    "solver": (("options.csv", "capacity"), ("options.csv", "organisation_id"),
               ("candidates.csv", "guidance_need"), ("organisations.csv", "guidance_capacity")),
    # Only with the policy option fairness.min_rate: policy target groups (not protected data).
    "fairness": (("candidates.csv", "target_group"),),
    # Coordinators' decisions: fix (lock) or close (forbid) a match.
    "decisions": (("decisions.csv", "candidate_id"), ("decisions.csv", "option_id"),
                  ("decisions.csv", "decision")),
}
#: How fields of an instance come from the files (location is lat/lon or a postcode).
DERIVED: dict[tuple[str, str], tuple[str, str]] = {
    ("candidates", "level"): ("candidates.csv", "dutch_level"),
    ("candidates", "lat"): ("candidates.csv", "location"),
    ("candidates", "lon"): ("candidates.csv", "location"),
    ("options", "level"): ("options.csv", "min_dutch_level"),
    ("options", "org"): ("options.csv", "organisation_id"),
    ("options", "lat"): ("options.csv", "location"),
    ("options", "lon"): ("options.csv", "location"),
    ("instance", "cand_skills"): ("candidates.csv", "skills"),
    ("instance", "opt_skills"): ("options.csv", "skills"),
    ("instance", "cand_sector_rank"): ("candidates.csv", "sectors"),
    ("instance", "opt_sector"): ("options.csv", "sector"),
    ("decisions", "cand"): ("decisions.csv", "candidate_id"),
    ("decisions", "opt"): ("decisions.csv", "option_id"),
}
COLUMN_WORDS = {
    "skills": N_("skills and their level (1-3)"),
    "sectors": N_("the sectors the person wants to work in, in order"),
    "sector": N_("the sector of the option"),
    "hours_available": N_("hours a week the person can work now"),
    "hours_min": N_("minimum hours a week of the option"),
    "hours_max": N_("maximum hours a week of the option"),
    "max_travel_km": N_("how far the person wants to travel"),
    "location": N_("location (lat/lon or 4-digit postcode)"),
    "dutch_level": N_("level of Dutch (A0-C2, 1F-3F)"),
    "min_dutch_level": N_("minimum level of Dutch for the option"),
    "guidance_need": N_("how much job coaching the person needs (0-3)"),
    "organisation_id": N_("the organisation that offers the option"),
    "guidance_capacity": N_("job-coach capacity of the organisation"),
    "capacity": N_("number of places (seats) of the option"),
    "candidate_id": N_("the person a coordinator's decision is about"),
    "option_id": N_("the option a coordinator's decision is about"),
    "decision": N_("lock (fix this match) or forbid (close this match)"),
    "target_group": N_("policy target group (e.g. statushouder), only for minimum placement rates"),
}
COMPONENT_WORDS = {
    "skills": N_("share of the option's desired skill levels the person has"),
    "sector": N_("how high the option's sector is on the person's wish list"),
    "hours": N_("how well the person's hours fit the option's range"),
    "travel": N_("1 at the door, falling to 0 at the person's maximum travel distance"),
    "language": N_("how far the person's Dutch is above the option's minimum"),
}
FILTER_WORDS = {
    "language": N_("the person's Dutch level is at least the option's minimum"),
    "hours": N_("the person can work at least the option's minimum hours"),
    "travel": N_("the option is within the person's maximum travel distance"),
    "guidance": N_("the organisation can give the guidance the person needs at all"),
}
NOT_USED = (N_("gender"), N_("age"), N_("origin or migration background"), N_("disability"),
            N_("religion"), N_("name"), N_("benefit history"))


def register_inputs(policy: Policy | None = None) -> list[tuple[str, str]]:
    """Every (file, column) the scoring, the hard rules and the solver read, sorted.

    With a policy whose fairness.min_rate is set, the target_group column is read too.
    """
    keys = [*COMPONENTS, *(f"filter:{f}" for f in FILTERS), "solver", "decisions"]
    if policy is not None and policy.fairness.min_rate:
        keys.append("fairness")
    return sorted({col for k in keys for col in INPUTS[k]})


def _fairness_text(policy: Policy) -> str:
    parts = [_("at least {pct:g}% of {group} placed").format(pct=100 * r, group=g)
             for g, r in policy.fairness.min_rate.items()]
    if policy.fairness.max_min:
        parts.append(_("the lowest score among placed people is raised as far as possible"))
    return _("Fairness options: {options}. Their price (objective lost) is reported in every "
             "round.").format(options="; ".join(parts) or _("off"))


def register_entry(policy: Policy, source_url: str) -> dict[str, Any]:
    """The register's fields as data, in the current language (:mod:`matcher.i18n`)."""
    w = policy.weights.as_dict()
    total = sum(w.values())
    return {
        "name": _("matcher: matching people to their next step towards work"),
        "version": __version__,
        "policy_hash": policy.hash,
        "short_description": _(
            "The computer helps to find a next step towards work for people who now have no job. "
            "A next step is a training programme or a work place with guidance. The computer "
            "looks at what a person can do, wants and needs. It makes a proposal. A coordinator "
            "checks the proposal and decides together with the person."),
        "purpose_and_impact": _(
            "Purpose: give each person the next step that fits best, with every organisation's "
            "places and job-coach time in view, so fewer people fall out between steps. Impact: "
            "the proposal influences which programme or work place a person is offered. It does "
            "not decide on benefits or sanctions."),
        "considerations": _(
            "Matching by hand does not see all places at once and depends on who knows whom. A "
            "joint optimum places more people and explains each proposal. Risks: unfair results "
            "for groups, inputs that carry a group (proxies), errors in the data. See risk "
            "management."),
        "human_involvement": _(
            "The software proposes; a coordinator decides. Coordinators can fix (lock) or close "
            "(forbid) any match before a round. Every person can ask for the explanation "
            "(`matcher explain`) and discuss it."),
        "risk_management": [_(x) for x in RISKS],
        "legal_basis": [_(x) for x in LEGAL_BASIS],
        "data_sources": [{"file": f, "column": c, "meaning": _(COLUMN_WORDS[c])}
                         for f, c in register_inputs(policy)],
        "not_used": [_(x) for x in NOT_USED],
        "technical_working": {
            "hard_rules": [{"rule": f, "meaning": _(FILTER_WORDS[f])} for f in FILTERS],
            "score_components": [{"component": k, "weight": round(w[k] / total, 4),
                                  "meaning": _(COMPONENT_WORDS[k]),
                                  "reads": [f"{f}:{c}" for f, c in INPUTS[k]]} for k in COMPONENTS],
            "objective": _(
                "Maximise the sum over matches of ({bonus:g} + score): first as many people placed "
                "as possible, then the best fit, within the seats of each option and the "
                "job-coach capacity of each organisation.").format(
                    bonus=policy.objective.match_bonus),
            "solver": _(
                "OR-Tools min-cost flow when guidance capacity does not bind; otherwise a "
                "Lagrangian method over min-cost flows with a proven upper bound, followed by "
                "CP-SAT (one worker, fixed seed) until optimality is proven for problems of at "
                "most {prove} pairs, or to improve the answer up to {exact} pairs.").format(
                    prove=policy.solver.prove_max_pairs, exact=policy.solver.exact_max_pairs),
            "fairness": _fairness_text(policy),
            "policy": policy.model_dump(mode="json"),
        },
        "source_link": source_url,
    }


RISKS = (
    N_("Protected attributes (gender, age, migration background, disability) are never inputs: "
       "they are held in a separate file that the scoring code cannot reach (tested)."),
    N_("Every round with protected data writes an equal-chances audit: placement rate per group, "
       "disparate-impact ratio (flag under 0.8), equal opportunity, proxies."),
    N_("Every round records the hashes of its input, policy and outputs; the same input gives the "
       "same result, so any round can be re-run and checked."),
    N_("Bad input stops the round with a clear message; nothing half-written is used."),
)
LEGAL_BASIS = (
    N_("Participatiewet, article 7 (support towards work by the municipality)"),
    N_("Wet banenafspraak en quotum arbeidsbeperkten (jobs agreement)"),
    N_("GDPR article 6(1)(e) (public task); article 9(2)(a) explicit consent for the protected "
       "data used only in the audit"),
    N_("EU AI Act: high-risk system (Annex III, points 4 and 5(a)); to be confirmed by the legal "
       "department before use"),
)
INSTRUCTIONS = (
    N_("Put organisations.csv, options.csv and candidates.csv (and decisions.csv for locks and "
       "forbids) in one folder, or one Excel workbook with a sheet per table; `matcher validate "
       "FOLDER` names every problem by file, row and column."),
    N_("Protected attributes, only with consent, go in protected.csv in the same folder. They are "
       "used only for the audit."),
    N_("`matcher run FOLDER --out ROUND` writes the proposal, the reasons and, with protected.csv, "
       "audit.json and audit.md. Read the audit's flags before you decide."),
    N_("`matcher explain FOLDER PERSON` prints the explanation for one person in plain words; "
       "read it with them."),
    N_("A coordinator decides. Fix or close matches in decisions.csv and run again."),
    N_("Keep round.json: it holds the hashes to re-run and check the round."),
)


def _bullets(items: list[str]) -> list[str]:
    return [f"- {x}" for x in items]


def register_markdown(entry: dict[str, Any]) -> str:
    """The entry and the instructions for use, as a Markdown document (current language)."""
    t = entry["technical_working"]
    out = [_("# Algoritmeregister: {name}").format(name=entry["name"]), "",
           _("Version {version}, policy {policy}.").format(version=entry["version"],
                                                          policy=entry["policy_hash"][:16]), "",
           "## " + _("Name"), "", entry["name"], "",
           "## " + _("Short description (B1)"), "", entry["short_description"], "",
           "## " + _("Purpose and impact"), "", entry["purpose_and_impact"], "",
           "## " + _("Considerations"), "", entry["considerations"], "",
           "## " + _("Human involvement"), "", entry["human_involvement"], "",
           "## " + _("Risk management"), "", *_bullets(entry["risk_management"]), "",
           "## " + _("Legal basis"), "", *_bullets(entry["legal_basis"]), "",
           "## " + _("Data sources"), "",
           "| " + " | ".join([_("file"), _("column"), _("meaning")]) + " |", "|---|---|---|",
           *[f"| {d['file']} | {d['column']} | {d['meaning']} |" for d in entry["data_sources"]], "",
           _("Never used to score or match: {items}.").format(items=", ".join(entry["not_used"])), "",
           "## " + _("Technical working"), "",
           _("Hard rules (a pair is possible only if all hold):"), "",
           *[f"- {r['rule']}: {r['meaning']}" for r in t["hard_rules"]], "",
           _("Score: the weighted mean of these parts (each between 0 and 1):"), "",
           "| " + " | ".join([_("part"), _("weight"), _("meaning"), _("reads")]) + " |",
           "|---|---:|---|---|",
           *[f"| {c['component']} | {100 * c['weight']:.0f}% | {c['meaning']} | "
             f"{', '.join(c['reads'])} |" for c in t["score_components"]], "",
           t["objective"], "", t["solver"], "", t["fairness"], "",
           "## " + _("Source"), "", entry["source_link"], "",
           "# " + _("Instructions for use"), "",
           *[f"{n}. {_(x)}" for n, x in enumerate(INSTRUCTIONS, 1)], ""]
    return "\n".join(out)
