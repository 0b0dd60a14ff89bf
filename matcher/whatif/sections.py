"""The what-if report's sections in words, in the reader's language (gettext catalogues).

`sections` turns report.json's content into (title, heading level, body), where body is a
paragraph, a table (rows of header -> text, headers in words, figures rounded, names not ids)
or a plot with the words under it. report.md and report.html render the same sections;
report.json and the CSV files keep their English keys and full precision in every language.
Each table is followed by a short paragraph in plain words (B1) for planners and auditors.
"""

from __future__ import annotations

from typing import Any

from matcher.audit.metrics import MIN_GROUP, rate_interval
from matcher.explain_words import reason_label
from matcher.i18n import N_, _, ngettext

Section = tuple[str, int, Any]
Row = dict[str, str]

TOTALS = {"matched": N_("people placed"), "unmatched": N_("people without a place"),
          "objective": N_("objective"), "total_score": N_("total score"),
          "mean_score": N_("mean score"), "seats": N_("seats"),
          "guidance_capacity": N_("job-coach capacity (units)")}
LEVELS = {"organisation": N_("organisation"), "option": N_("option")}
CHANGES = {"placed": N_("gets a place"), "unplaced": N_("loses the place"),
           "moved": N_("moves to another option")}
FIGURE = {"exact": N_("exact (solved again)"), "estimate": N_("estimate")}
STATUS = {"optimal": N_("optimal"), "feasible": N_("feasible, not proven optimal")}


def num(v: Any, digits: int = 2, sign: bool = False) -> str:
    """A figure rounded for reading ('' for none)."""
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    if isinstance(v, int):
        return f"{v:+d}" if sign else f"{v:d}"
    return f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}"


def pct(placed: int, size: int) -> str:
    """A rate with its Wilson 95% interval: '67% (39-86%)'; '-' for an empty group."""
    if not size:
        return "-"
    lo, hi = rate_interval(int(placed), int(size))
    return f"{100 * placed / size:.0f}% ({100 * lo:.0f}-{100 * hi:.0f}%)"


def word(table: dict[str, str], key: Any) -> str:
    return _(table[key]) if key in table else str(key)


class Names:
    """Ids -> names (report.json's `names`), and the scenario labels of sweep points."""

    def __init__(self, report: dict[str, Any]) -> None:
        self.names: dict[str, str] = report.get("names", {})

    def __call__(self, ident: Any) -> str:
        return self.names.get(str(ident), str(ident)) if ident not in (None, "") else ""

    def point(self, sweep: str, x: str | None) -> str:
        head, _sep, tail = (x or "").partition(" ")
        return f"{sweep}: " + " ".join(p for p in (self(head), tail) if p)


def sections(report: dict[str, Any], plot_caption: Any) -> list[Section]:
    """Every section of the report, in order."""
    names = Names(report)
    out: list[Section] = [(_("What-if report"), 1, lead(report, names))]
    out += overview(report, names)
    out.append((_("Use of guidance and seats"), 2,
                ("plot", "utilisation", plot_caption(report, "utilisation"))))
    out.append((_("How well the matches fit"), 2, ("plot", "scores", plot_caption(report, "scores"))))
    for s in report["scenarios"]:
        out += scenario(s, names, report["protected_data"])
    for sw in report["sweeps"]:
        out += sweep(sw, names)
    if "marginal" in report:
        out += marginal(report["marginal"])
    if "decisions" in report:
        out += decisions(report["decisions"], names)
    return out


def lead(report: dict[str, Any], names: Names) -> str:
    """The opening paragraph for decision makers: now, the best and worst scenario, where one
    more job coach helps most."""
    b = report["baseline"]
    words = [_("Now {matched} of the {candidates} people get a place.").format(
        matched=b["matched"], candidates=b["candidates"])]
    rows = _all_rows(report, names)
    if rows:
        best = max(rows, key=lambda r: (r[1], r[2]))
        worst = min(rows, key=lambda r: (r[1], r[2]))
        if best[1] > 0:
            words.append(ngettext("The scenario that helps most is '{name}': {n} more person "
                                  "gets a place.", "The scenario that helps most is '{name}': "
                                  "{n} more people get a place.", best[1]).format(
                name=best[0], n=best[1]))
        else:
            words.append(_("No scenario gives more people a place."))
        if worst[1] < 0:
            words.append(ngettext("With '{name}' {n} person fewer gets a place.",
                                  "With '{name}' {n} people fewer get a place.", -worst[1]
                                  ).format(name=worst[0], n=-worst[1]))
    exact = [r for r in report.get("marginal", {}).get("guidance", [])
             if r["value"] == "exact" and not r["reading"] and (r["people"] or 0) > 0]
    if exact:
        top = exact[0]
        words.append(ngettext("One more job-coach unit helps most at {org}: {n} more person "
                              "gets a place.", "One more job-coach unit helps most at {org}: "
                              "{n} more people get a place.", top["people"]).format(
            org=top["organisation"], n=top["people"]))
    words.append(_("Data: `{source}` (input hash {input}, policy hash {policy}).").format(
        source=report["source"], input=report["input_hash"][:16],
        policy=report["policy_hash"][:16]))
    return " ".join(words)


def _all_rows(report: dict[str, Any], names: Names) -> list[tuple[str, int, float]]:
    rows = [(s["name"], int(s["diff"]["totals"]["matched"]["change"]),
             float(s["diff"]["totals"]["objective"]["change"])) for s in report["scenarios"]]
    rows += [(names.point(sw["name"], p.get("x")), int(p["diff"]["totals"]["matched"]["change"]),
              float(p["diff"]["totals"]["objective"]["change"]))
             for sw in report["sweeps"] for p in sw["points"]]
    return rows


def _moves(d: dict[str, Any]) -> int:
    return len(d["moves"]) if isinstance(d["moves"], list) else int(d["moves"])


def overview(report: dict[str, Any], names: Names) -> list[Section]:
    b = report["baseline"]

    def row(name: str, summary: dict[str, Any], d: dict[str, Any] | None) -> Row:
        t = d["totals"] if d else None
        return {_("scenario"): name, _("people placed"): num(summary["matched"]),
                _("change in people placed"): num(t["matched"]["change"], sign=True) if t else "",
                _("objective"): num(summary["objective"]),
                _("change in objective"): num(t["objective"]["change"], sign=True) if t else "",
                _("mean score"): num(summary["mean_score"]),
                _("people who change"): num(_moves(d)) if d else "",
                _("solver"): word(STATUS, summary["status"])}

    rows = [row(_("baseline"), b, None)]
    rows += [row(s["name"], s["summary"], s["diff"]) for s in report["scenarios"]]
    rows += [row(names.point(sw["name"], p.get("x")), p["summary"], p["diff"])
             for sw in report["sweeps"] for p in sw["points"]]
    return [(_("Overview"), 2, rows),
            ("", 0, _("Each row is one scenario. 'Change in people placed' says how many more "
                      "(+) or fewer (-) people get a place than now. The objective is the "
                      "measure the plan makes as high as it can: a place counts most, a better "
                      "fit counts a little more."))]


def scenario(s: dict[str, Any], names: Names, protected: bool) -> list[Section]:
    d = s["diff"]
    t = d["totals"]
    text = [_("Changes: {edits}.").format(edits="; ".join(f"`{e}`" for e in s["edits"])
                                          or _("none"))]
    text += [f"{n}." for n in s["notes"]]
    if d["empty"]:
        text.append("**" + _("No change against the baseline.") + "**")
    else:
        text.append(_("In this scenario {after} people get a place ({change:+d} compared with "
                      "now); {moves} people change.").format(
            after=t["matched"]["after"], change=int(t["matched"]["change"]), moves=_moves(d)))
    out: list[Section] = [(_("Scenario: {name}").format(name=s["name"]), 2, " ".join(text))]
    out.append((_("Totals"), 3, [{_("figure"): word(TOTALS, k), _("before"): num(v["before"]),
                                  _("after"): num(v["after"]),
                                  _("change"): num(v["change"], sign=True)}
                                 for k, v in t.items()]))
    out.append((_("Why people have no place"), 3,
                [{_("reason"): reason_label(r["reason"]), _("before"): num(r["before"]),
                  _("after"): num(r["after"]), _("change"): num(r["change"], sign=True)}
                 for r in d["unmatched_reasons"]]))
    out.append((_("Seats and guidance that changed"), 3, [_use_row(u, names)
                                                          for u in d["utilisation"]]))
    out.append((_("Who changes, and how"), 3, [_move_row(m, names) for m in d["moves"]]))
    if d["moves"]:
        out.append(("", 0, _("The reasons for each person are in moves.csv (why_before, "
                             "why_after) and in `matcher explain`.")))
    if d["groups"] is not None and protected:
        out += groups(d["groups"])
    return out


def _use_row(u: dict[str, Any], names: Names) -> Row:
    def pair(a: str) -> str:
        before, after = u.get(f"{a}_before"), u.get(f"{a}_after")
        return "" if before is None and after is None else f"{num(before)} \u2192 {num(after)}"

    return {_("level"): word(LEVELS, u["level"]), _("name"): names(u["id"]),
            _("seats"): pair("seats"), _("seats used"): pair("seats_used"),
            _("job-coach capacity"): pair("guidance_capacity"),
            _("job-coach units used"): pair("guidance_used")}


def _move_row(m: dict[str, Any], names: Names) -> Row:
    return {_("person"): m["candidate_id"], _("what changes"): word(CHANGES, m["change"]),
            _("from"): names(m["from_option"]), _("to"): names(m["to_option"]),
            _("fit before"): num(m["score_before"]), _("fit after"): num(m["score_after"])}


def groups(rows: list[dict[str, Any]]) -> list[Section]:
    """Placement rates per group, before and after, each with its 95% interval."""
    from matcher.audit import words as AW

    table = [{_("attribute"): AW.attribute(g["attribute"]), _("group"): AW.group(g["group"]),
              _("people"): num(g["candidates_after"]),
              _("placed before"): pct(g["placed_before"], g["candidates_before"]),
              _("placed after"): pct(g["placed_after"], g["candidates_after"]),
              _("note"): (_("small group (under {n}): no verdict").format(n=MIN_GROUP)
                          if g["candidates_after"] < MIN_GROUP else "")}
             for g in rows]
    return [(_("Equal chances: placement rate per group"), 3, table),
            ("", 0, _("The share of each group that gets a place, with its 95% interval in "
                      "brackets: the true share lies in it in 95 of 100 cases. When the "
                      "intervals before and after overlap, the change can be chance. Groups "
                      "under {n} people are too small for a verdict.").format(n=MIN_GROUP))]


def sweep(sw: dict[str, Any], names: Names) -> list[Section]:
    from matcher.whatif import words as W
    from matcher.whatif.report import slug

    rows = [{_("point"): names.point(sw["name"], p.get("x")).split(": ", 1)[1],
             _("people placed"): num(p["summary"]["matched"]),
             _("change in people placed"): num(p["diff"]["totals"]["matched"]["change"], sign=True),
             _("change in objective"): num(p["diff"]["totals"]["objective"]["change"], sign=True),
             _("people who change"): num(p["diff"]["moves"]),
             _("solver"): word(STATUS, p["summary"]["status"])} for p in sw["points"]]
    return [(_("Sweep: {name}").format(name=sw["name"]), 2,
             ("plot", f"sweep-{slug(sw['name'])}", _(W.SWEEP_READ))),
            (_("Points"), 3, rows)]


def marginal(m: dict[str, Any]) -> list[Section]:
    from matcher.whatif import words as W

    text = _("What one more unit gives: 'more people placed' and 'change in objective' come "
             "from solving the round again with that one unit added ('exact'). Where that was "
             "not done, the table shows an 'estimate' from the prices of the plan (an upper "
             "limit, not a promise). The solver's gap says how far from the best plan the "
             "answer may be; a change smaller than the gap is shown as 'within the solver's "
             "tolerance'.")
    return [(_("What one more job coach or seat gives"), 2, text),
            (_("One more guidance unit per organisation"), 3,
             ("plot", "marginal", _(W.MARGINAL_READ))),
            (_("One more seat per option"), 3, ("plot", "marginal-seats", _(W.MARGINAL_READ))),
            (_("Guidance units, ranked"), 3, [_marginal_row(r, "organisation")
                                             for r in m["guidance"]]),
            (_("Seats, ranked"), 3, [_marginal_row(r, "option") for r in m["seats"]]),
            ("", 0, _("How the estimates were made: {note}").format(note=_note(m)))]


def _note(part: dict[str, Any]) -> str:
    """An engine's note in the reader's language (reports made before notes had parts: as
    they were written)."""
    from matcher.whatif.words import note_text

    return note_text(part["note_parts"]) if "note_parts" in part else str(part["note"])


def _marginal_row(r: dict[str, Any], what: str) -> Row:
    exact = r["value"] == "exact"
    within = bool(r["reading"])
    tolerance = _("within the solver's tolerance")
    row = {_("rank"): num(r["rank"]), _(what): r[what]}
    if what == "option":
        row[_("organisation")] = r["organisation"]
    row |= {_("more people placed"): (tolerance if within else num(r["people"], sign=True))
            if exact else "",
            _("change in objective"): (tolerance if within else num(r["objective"], sign=True))
            if exact else num(r["estimate"], sign=True),
            _("figure"): word(FIGURE, r["value"]),
            _("solver's gap"): num(r["gap"])}
    return row


def decisions(dd: dict[str, Any], names: Names) -> list[Section]:
    t = dd["together"]
    text = _("Coordinators' locks and forbids together cost {objective} objective and {people} "
             "place(s), against the same round without them ({matched} people placed).").format(
        objective=num(t["objective_lost"]), people=t["placements_lost"],
        matched=dd["unconstrained"]["matched"])
    if t["unplaced_because"]:
        text += " " + _("Without a place because of them: {ids}.").format(
            ids=", ".join(t["unplaced_because"]))
    rows = [{_("person"): e["candidate_id"], _("option"): names(e["option_id"]),
             _("decision"): word({"lock": N_("lock"), "forbid": N_("forbid")}, e["decision"]),
             _("objective lost"): num(e["objective_lost"]),
             _("places lost"): num(e["placements_lost"])} for e in dd["each"]]
    return [(_("Price of coordinators' decisions"), 2, text + (" " + _note(dd) if dd["note"]
                                                               else "")),
            (_("Each decision on its own"), 3, rows)]
