"""An explanation in plain words that a coordinator can read to the person (short sentences, B1).

Turns :func:`matcher.explain_person.explain_candidate`'s data into text; no numbers are made up
here, every sentence comes from a field of that data.
"""

from __future__ import annotations

from typing import Any

from matcher.i18n import N_, _, ngettext

KIND = {"programme": N_("a training programme"), "place": N_("a work place")}
RULE_LINES = {
    "language": (N_("Dutch"), N_("Your Dutch is {p}. This option asks at least {o}.")),
    "hours": (N_("Hours"), N_("You can work {p:g} hours a week. This option needs at least {o:g}.")),
    "travel": (N_("Travel"), N_("It is {p:g} km away. You want to travel at most {o:g} km.")),
    "guidance": (N_("Guidance"),
                 N_("You need guidance level {p}. The organisation can give {o} in all.")),
}
UNMATCHED_WORDS = {
    "no_eligible_option": N_("No option fits the basic rules for you at the moment."),
    "forbidden": N_("The options that fit were closed for you by a coordinator."),
    "guidance_capacity_exhausted": N_("There was a free place, but the organisation had no "
                                      "job-coach time left for you."),
    "outcompeted_for_capacity": N_("The options that fit you were all full."),
    "not_chosen": N_("There was a free place, but the plan did not use it. Please ask a "
                     "coordinator."),
    "option_not_opened": N_("The options that fit you do not start in this round: too few "
                            "people could join them."),
}
#: Reason codes (unmatched.csv `reason`) in a few words, for summaries and report tables.
REASON_LABELS = {
    "no_eligible_option": N_("no option fits the basic rules"),
    "forbidden": N_("the options that fit were closed by a coordinator"),
    "guidance_capacity_exhausted": N_("a seat was free, but no job-coach time"),
    "outcompeted_for_capacity": N_("every option that fits was full"),
    "not_chosen": N_("a free seat was not used (ask a coordinator)"),
    "option_not_opened": N_("the options that fit did not start (too few people)"),
}


def reason_label(code: str) -> str:
    """A reason code in a few words in the current language (an unknown code as it is)."""
    return _(REASON_LABELS[code]) if code in REASON_LABELS else code


RULE_FAIL = {
    "language": N_("{n} of {total} options ask for a higher level of Dutch."),
    "hours": N_("{n} of {total} options ask for more hours a week."),
    "travel": N_("{n} of {total} options are too far away."),
    "guidance": N_("{n} of {total} options need more guidance than the organisation can give."),
}
COMPONENT_NAMES = {"skills": N_("skills"), "sector": N_("sector"), "hours": N_("hours"),
                   "travel": N_("travel"), "language": N_("language")}


def _options(n: int) -> str:
    return ngettext("{n} option", "{n} options", n).format(n=n)


def _sector(name: str) -> str:
    return name.replace("_", " ")


def _component_lines(m: dict[str, Any]) -> list[str]:
    f = {x["rule"]: x for x in m["filters"]}
    c = {x["component"]: x for x in m["components"]}
    skills = (_("You have {pct}% of the skills this option asks for.").format(
        pct=round(100 * c["skills"]["value"]))
        if m["asks_skills"] else _("This option does not ask for special skills."))
    sector = (_("{sector} is wish number {rank} on your list.").format(
        sector=_sector(m["sector"]).capitalize(), rank=m["sector_rank"])
        if m["sector_rank"] > 0 else
        _("You did not name {sector} as a wish.").format(sector=_sector(m["sector"])))
    hours = _("You can work {p:g} hours a week. This option is {lo:g} to {hi:g} hours.").format(
        p=f["hours"]["person"], lo=f["hours"]["option"], hi=m["hours_max"])
    travel = _("It is {p:g} km from your home. You want to travel at most {o:g} km.").format(
        p=f["travel"]["person"], o=f["travel"]["option"])
    lang = _("Your Dutch is {p}. This option asks at least {o}.").format(
        p=f["language"]["person"], o=f["language"]["option"])
    text = {"skills": skills, "sector": sector, "hours": hours, "travel": travel, "language": lang}
    return ["- " + _("{text} ({name}: {value:.2f}, counts for {pct:.0f}%)").format(
        text=text[k], name=_(COMPONENT_NAMES[k]), value=c[k]["value"], pct=100 * c[k]["weight"])
        for k in text]


def _why_not(alt: dict[str, Any]) -> str:
    seats = alt["seats"]
    if alt["reason"] == "guidance":
        short = alt["guidance_short"]
        return (ngettext("It had a free place, but the organisation had too little job-coach time "
                         "left ({n} unit short).",
                         "It had a free place, but the organisation had too little job-coach time "
                         "left ({n} units short).", short).format(n=short) if short else
                _("It had a free place, but the organisation had too little job-coach time left."))
    return {
        "outcompeted": ngettext("Its only place went to someone it fits better.",
                                "All {n} places went to people it fits better.", seats).format(n=seats),
        "full": ngettext("Its only place went to someone else.",
                         "All {n} places went to other people.", seats).format(n=seats)
        + " " + _("That way the plan gives more people a place, or a better fit."),
        "lower_score": _("It fits you less well than your match."),
        "not_chosen": _("It had a free place. Please ask a coordinator why it was not used."),
    }[alt["reason"]]


def _alternative_lines(alt: dict[str, Any] | None, matched: bool) -> list[str]:
    if alt is None:
        return [_("There was no other option that fits the basic rules.")]
    lead = (_("The best other option was {name} at {organisation} (score {score:.2f}).") if matched
            else _("The option that fits you best was {name} at {organisation} (score {score:.2f})."))
    return [lead.format(name=alt["name"], organisation=alt["organisation"], score=alt["score"])
            + " " + _why_not(alt)]


CHANGE_WORDS = {
    ("language", 2.0): N_("Dutch two levels higher"),
    ("hours", 4.0): N_("4 more hours a week"),
    ("hours", 8.0): N_("8 more hours a week"),
    ("travel", 5.0): N_("5 km more travel"),
    ("travel", 10.0): N_("10 km more travel"),
    ("guidance", -1.0): N_("a little less guidance"),
}


def _counterfactual_lines(x: dict[str, Any]) -> list[str]:
    lv = x["levels"]
    lines = []
    for cf in x["counterfactuals"]:
        if cf["opens"] == 0:
            continue
        key = (cf["rule"], cf["change"])
        change = (_("Dutch one level higher ({next} instead of {now})").format(
            next=lv["next_level"], now=lv["dutch_level"]) if key == ("language", 1.0)
            else _(CHANGE_WORDS[key]))
        line = _("{change} would open {options}.").format(change=change, options=_options(cf["opens"]))
        if cf["opens_free"] != cf["opens"]:
            line = _("{change} would open {options}; {free} of them had a free place in this "
                     "round.").format(change=change, options=_options(cf["opens"]), free=cf["opens_free"])
        lines.append("- " + line)
    return lines


def route_line(r: dict[str, Any]) -> str:
    """The route in words: the programme, then the guaranteed place, and the Dutch it brings."""
    programme = (ngettext("{programme} ({weeks} week)", "{programme} ({weeks} weeks)",
                          r["weeks"]).format(programme=r["programme"], weeks=r["weeks"])
                 if r["weeks"] else r["programme"])
    place = _("{place} at {organisation}").format(place=r["place"],
                                                   organisation=r["organisation"])
    line = (_("{programme}, then a guaranteed place: {place} from {start}.") if r["start"] else
            _("{programme}, then a guaranteed place: {place}.")).format(
        programme=programme, place=place, start=r["start"])
    if r["exit_level"] != r["dutch_level"]:
        line += " " + _("Your Dutch {now} will be {then} by then; that place asks {asks}.").format(
            now=r["dutch_level"], then=r["exit_level"], asks=r["place_asks"])
    return line


def _matched_lines(x: dict[str, Any]) -> list[str]:
    m = x["match"]
    kind = m["kind"]
    kind = _(KIND[kind]) if kind in KIND else kind
    out = [_("Proposal: {name} at {organisation}. This is {kind}.").format(
        name=m["name"], organisation=m["organisation"], kind=kind), ""]
    if "route" in x:
        out += [route_line(x["route"]), ""]
    if m["locked"]:
        out += [_("A coordinator chose this place for you."), ""]
    out += [_("Why this option fits you (score {score:.2f} out of 1):").format(score=m["score"]),
            *_component_lines(m), ""]
    passed = [x_ for x_ in m["filters"] if x_["passed"]]
    out += [_("The basic rules ({met} of {total} met):").format(met=len(passed), total=len(m["filters"]))]
    for f in m["filters"]:
        label, line = RULE_LINES[f["rule"]]
        verdict = _("OK.") if f["passed"] else _("Not met: a coordinator chose this anyway.")
        out.append(f"- {_(label)}: {_(line).format(p=f['person'], o=f['option'])} {verdict}")
    return [*out, "", *_alternative_lines(x.get("alternative"), True)]


def _unmatched_lines(x: dict[str, Any]) -> list[str]:
    u = x["unmatched"]
    reason = u["reason"]
    why = _(UNMATCHED_WORDS[reason]) if reason in UNMATCHED_WORDS else u["detail"]
    out = [_("Proposal: no place in this round."), "",
           _("Why: {why} (code: {code})").format(why=why, code=u["reason"])]
    if u["reason"] == "no_eligible_option":
        total = x["options_total"]
        for rule, n in sorted(x["options_failing"].items(), key=lambda kv: -kv[1]):
            if n:
                out.append("- " + _(RULE_FAIL[rule]).format(n=n, total=total))
    else:
        out += ["", *_alternative_lines(x.get("alternative"), False)]
    cf = _counterfactual_lines(x)
    out += ["", _("What would change this:")]
    out += cf or ["- " + _("No single change to your Dutch, hours or travel opens an option.")]
    alt = x.get("alternative")
    if alt and alt["reason"] in ("full", "outcompeted"):
        out.append("- " + _("One more place at {name} would make room.").format(name=alt["name"]))
    if alt and alt["reason"] == "guidance":
        out.append("- " + _("More job-coach time at {organisation} would make room.").format(
            organisation=alt["organisation"]))
    return out


def explanation_text(x: dict[str, Any]) -> str:
    """The explanation of one person in short, plain sentences (in the current language)."""
    out = [_("Explanation for {candidate}").format(candidate=x["candidate_id"]), ""]
    out += _matched_lines(x) if x["status"] == "matched" else _unmatched_lines(x)
    if x["forbidden"]:
        out += ["", _("A coordinator closed these options for you: {options}.").format(
            options=", ".join(x["forbidden"]))]
    out += ["", _("This is a proposal. A coordinator checks it and decides together with you.")]
    return "\n".join(out) + "\n"
