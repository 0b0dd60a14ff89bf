"""An explanation in plain words that a coordinator can read to the person (short sentences, B1).

Turns :func:`matcher.explain_person.explain_candidate`'s data into text; no numbers are made up
here, every sentence comes from a field of that data.
"""

from __future__ import annotations

from typing import Any

KIND = {"programme": "a training programme", "place": "a work place"}
RULE_LINES = {
    "language": ("Dutch", "Your Dutch is {p}. This option asks at least {o}."),
    "hours": ("Hours", "You can work {p:g} hours a week. This option needs at least {o:g}."),
    "travel": ("Travel", "It is {p:g} km away. You want to travel at most {o:g} km."),
    "guidance": ("Guidance", "You need guidance level {p}. The organisation can give {o} in all."),
}
UNMATCHED_WORDS = {
    "no_eligible_option": "No option fits the basic rules for you at the moment.",
    "forbidden": "The options that fit were closed for you by a coordinator.",
    "guidance_capacity_exhausted": "There was a free place, but the organisation had no job-coach "
                                   "time left for you.",
    "outcompeted_for_capacity": "The options that fit you were all full.",
    "not_chosen": "There was a free place, but the plan did not use it. Please ask a coordinator.",
}
RULE_FAIL = {
    "language": "ask for a higher level of Dutch",
    "hours": "ask for more hours a week",
    "travel": "are too far away",
    "guidance": "need more guidance than the organisation can give",
}


def _options(n: int) -> str:
    return "1 option" if n == 1 else f"{n} options"


def _all_places(n: int) -> str:
    return "Its only place" if n == 1 else f"All {n} places"


def _sector(name: str) -> str:
    return name.replace("_", " ")


def _component_lines(m: dict[str, Any]) -> list[str]:
    f = {x["rule"]: x for x in m["filters"]}
    c = {x["component"]: x for x in m["components"]}
    skills = (f"You have {round(100 * c['skills']['value'])}% of the skills this option asks for."
              if m["asks_skills"] else "This option does not ask for special skills.")
    sector = (f"{_sector(m['sector']).capitalize()} is wish number {m['sector_rank']} on your list."
              if m["sector_rank"] > 0 else f"You did not name {_sector(m['sector'])} as a wish.")
    hours = (f"You can work {f['hours']['person']:g} hours a week. This option is "
             f"{f['hours']['option']:g} to {m['hours_max']:g} hours.")
    travel = (f"It is {f['travel']['person']:g} km from your home. You want to travel at most "
              f"{f['travel']['option']:g} km.")
    lang = f"Your Dutch is {f['language']['person']}. This option asks at least {f['language']['option']}."
    text = {"skills": skills, "sector": sector, "hours": hours, "travel": travel, "language": lang}
    return [f"- {text[k]} ({k}: {c[k]['value']:.2f}, counts for {100 * c[k]['weight']:.0f}%)"
            for k in text]


def _alternative_lines(alt: dict[str, Any] | None, matched: bool) -> list[str]:
    if alt is None:
        return ["There was no other option that fits the basic rules."]
    name = f"{alt['name']} at {alt['organisation']}"
    why = {
        "outcompeted": f"{_all_places(alt['seats'])} went to people it fits better.",
        "full": f"{_all_places(alt['seats'])} went to other people. That way the plan gives more "
                "people a place, or a better fit.",
        "guidance": "It had a free place, but the organisation had too little job-coach time left"
                    + (f" ({alt['guidance_short']} unit(s) short)." if alt["guidance_short"] else "."),
        "lower_score": "It fits you less well than your match.",
        "not_chosen": "It had a free place. Please ask a coordinator why it was not used.",
    }[alt["reason"]]
    lead = "The best other option was" if matched else "The option that fits you best was"
    return [f"{lead} {name} (score {alt['score']:.2f}). {why}"]


def _counterfactual_lines(x: dict[str, Any]) -> list[str]:
    lv = x["levels"]
    lines = []
    for cf in x["counterfactuals"]:
        if cf["opens"] == 0:
            continue
        change = {
            ("language", 1.0): f"Dutch one level higher ({lv['next_level']} instead of {lv['dutch_level']})",
            ("language", 2.0): "Dutch two levels higher",
            ("hours", 4.0): "4 more hours a week",
            ("hours", 8.0): "8 more hours a week",
            ("travel", 5.0): "5 km more travel",
            ("travel", 10.0): "10 km more travel",
            ("guidance", -1.0): "a little less guidance",
        }[(cf["rule"], cf["change"])]
        free = (f"; {cf['opens_free']} of them had a free place in this round"
                if cf["opens_free"] != cf["opens"] else "")
        lines.append(f"- {change} would open {_options(cf['opens'])}{free}.")
    return lines


def explanation_text(x: dict[str, Any]) -> str:
    """The explanation of one person in short, plain sentences."""
    out = [f"Explanation for {x['candidate_id']}", ""]
    if x["status"] == "matched":
        m = x["match"]
        out += [f"Proposal: {m['name']} at {m['organisation']}. This is {KIND.get(m['kind'], m['kind'])}.",
                ""]
        if m["locked"]:
            out += ["A coordinator chose this place for you.", ""]
        out += [f"Why this option fits you (score {m['score']:.2f} out of 1):", *_component_lines(m), ""]
        passed = [x_ for x_ in m["filters"] if x_["passed"]]
        out += [f"The basic rules ({len(passed)} of {len(m['filters'])} met):"]
        for f in m["filters"]:
            label, line = RULE_LINES[f["rule"]]
            out.append(f"- {label}: {line.format(p=f['person'], o=f['option'])} "
                       f"{'OK.' if f['passed'] else 'Not met: a coordinator chose this anyway.'}")
        out += ["", *_alternative_lines(x.get("alternative"), True)]
    else:
        u = x["unmatched"]
        out += ["Proposal: no place in this round.", "",
                f"Why: {UNMATCHED_WORDS.get(u['reason'], u['detail'])} (code: {u['reason']})"]
        if u["reason"] == "no_eligible_option":
            total = x["options_total"]
            for rule, n in sorted(x["options_failing"].items(), key=lambda kv: -kv[1]):
                if n:
                    out.append(f"- {n} of {total} options {RULE_FAIL[rule]}.")
        else:
            out += ["", *_alternative_lines(x.get("alternative"), False)]
        cf = _counterfactual_lines(x)
        out += ["", "What would change this:"]
        out += cf or ["- No single change to your Dutch, hours or travel opens an option."]
        if x.get("alternative") and x["alternative"]["reason"] in ("full", "outcompeted"):
            out.append(f"- One more place at {x['alternative']['name']} would make room.")
        if x.get("alternative") and x["alternative"]["reason"] == "guidance":
            out.append(f"- More job-coach time at {x['alternative']['organisation']} would make room.")
    if x["forbidden"]:
        out += ["", f"A coordinator closed these options for you: {', '.join(x['forbidden'])}."]
    out += ["", "This is a proposal. A coordinator checks it and decides together with you."]
    return "\n".join(out) + "\n"
