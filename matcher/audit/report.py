"""The audit of a round: group placement rates, disparate impact, equal opportunity and proxies.

:func:`audit_round` reads a finished round (who was placed, who had an eligible option) and the
protected attributes, and returns the content of ``audit.json``; :func:`audit_markdown` turns it
into the readable section ``audit.md``; :func:`audit_files` gives both as bytes for
:func:`matcher.round.write_round`, which writes them with the round, all or nothing.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from matcher.audit import words as W
from matcher.audit.metrics import (
    FOUR_FIFTHS,
    INSUFFICIENT,
    LEVEL,
    MIN_GROUP,
    RATE_METHOD,
    RATIO_METHOD,
    GroupRates,
    Ratio,
    group_rates,
    min_max_ratio,
)
from matcher.audit.protected import load_protected
from matcher.audit.proxies import STRONG, proxy_table
from matcher.audit.routes import route_markdown, route_rates
from matcher.csvio import read_table
from matcher.errors import InputError, Problem, Problems
from matcher.i18n import N_, _, ngettext
from matcher.model import Instance
from matcher.round import Round

AUDIT_FILES = ("audit.json", "audit.md")


def _r(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 6)


def _groups_json(rates: GroupRates) -> list[dict[str, Any]]:
    return [{
        "group": str(rates.groups[i]),
        "size": int(rates.size[i]),
        "placed": int(rates.placed[i]),
        "rate": _r(rates.rate[i]),
        "ci": [_r(rates.ci_low[i]), _r(rates.ci_high[i])],
        "status": "ok" if rates.size[i] >= MIN_GROUP else INSUFFICIENT,
    } for i in range(len(rates.groups))]


def _ratio_json(ratio: Ratio) -> dict[str, Any]:
    return {"ratio": _r(ratio.value), "ci": [_r(ratio.ci_low), _r(ratio.ci_high)],
            "lowest": ratio.lowest, "highest": ratio.highest, "verdict": ratio.verdict,
            "flag": ratio.flag, "clear": ratio.clear}


def attribute_audit(labels: np.ndarray, placed: np.ndarray, has_option: np.ndarray,
                    ) -> dict[str, Any]:
    """Placement per group, disparate impact, and equal opportunity for one attribute."""
    all_rates = group_rates(labels, placed)
    opp_rates = group_rates(labels, placed, mask=has_option)
    return {
        "people": int(all_rates.size.sum()),
        "not_given": int((np.asarray(labels, dtype=object) == "").sum()),
        "placement": _groups_json(all_rates),
        "disparate_impact": _ratio_json(min_max_ratio(all_rates)),
        "equal_opportunity": {
            "groups": _groups_json(opp_rates),
            **_ratio_json(min_max_ratio(opp_rates)),
        },
    }


def audit_arrays(protected: pd.DataFrame, placed: np.ndarray, has_option: np.ndarray,
                 ) -> dict[str, Any]:
    """The audit's group metrics for any outcome arrays aligned with `protected`'s rows."""
    placed = np.asarray(placed, dtype=bool)
    has_option = np.asarray(has_option, dtype=bool)
    attributes = {a: attribute_audit(protected[a].to_numpy(dtype=object), placed, has_option)
                  for a in protected.columns}
    intersections: dict[str, Any] = {}
    for a, b in itertools.combinations(protected.columns, 2):
        la, lb = protected[a].to_numpy(dtype=object), protected[b].to_numpy(dtype=object)
        both = (la != "") & (lb != "")
        labels = np.where(both, la.astype(str) + " & " + lb.astype(str), "").astype(object)
        sizes = pd.Series(labels[both]).value_counts()
        entry = attribute_audit(labels, placed, has_option)
        entry["large_groups"] = int((sizes >= MIN_GROUP).sum())
        intersections[f"{a} x {b}"] = entry
    return {"attributes": attributes, "intersections": intersections}


def audit_round(rnd: Round, protected: pd.DataFrame, protected_hash: str = "") -> dict[str, Any]:
    """audit.json's content for a finished round."""
    inst = rnd.instance
    n = inst.n_candidates
    placed = np.zeros(n, dtype=bool)
    placed[rnd.edges.cand[rnd.chosen]] = True
    has_option = np.bincount(rnd.edges.cand[rnd.edges.eligible], minlength=n) > 0
    routed = None
    if rnd.chain is not None and rnd.has_routes:
        routed = np.zeros(n, dtype=bool)
        routed[rnd.chain.routes.cand[rnd.chain.chosen_routes]] = True
    return audit_outcomes(inst, rnd.policy.hash, placed, has_option, protected, protected_hash,
                          routed)


def audit_outcomes(inst: Instance, policy_hash: str, placed: np.ndarray, has_option: np.ndarray,
                   protected: pd.DataFrame, protected_hash: str = "",
                   routed: np.ndarray | None = None) -> dict[str, Any]:
    """audit.json's content from a round's outcome per candidate (canonical order); `routed`
    (a round with routes): who got a guaranteed route."""
    n = inst.n_candidates
    body = audit_arrays(protected, placed, has_option)
    proxies = proxy_table(inst, protected)
    flags = []
    for where in ("attributes", "intersections"):
        for name, entry in body[where].items():
            for metric in ("disparate_impact", "equal_opportunity"):
                m = entry[metric]
                if m["flag"]:
                    sure = ("clear: the whole interval is below" if m["clear"] else
                            "the interval reaches") + f" {FOUR_FIFTHS}"
                    flags.append(f"{metric.replace('_', ' ')} for {name}: {m['lowest']} "
                                 f"{m['ratio']:.2f} of {m['highest']} (interval {m['ci'][0]:.2f}-"
                                 f"{m['ci'][1]:.2f}; {sure})")
    flags += [f"proxy: {p['description']} carries {p['attribute']} ({p['measure']} {p['value']:.2f})"
              for p in proxies if p["level"] == "strong"]
    return {
        "round": {"input_hash": inst.content_hash, "policy_hash": policy_hash},
        "protected_file": {"content_sha256": protected_hash, "attributes": list(protected.columns)},
        "settings": {"min_group_size": MIN_GROUP, "four_fifths_threshold": FOUR_FIFTHS,
                     "intervals": {"level": LEVEL, "rate": RATE_METHOD, "ratio": RATIO_METHOD},
                     "proxy_strong_threshold": STRONG},
        "overall": {
            "candidates": n, "placed": int(placed.sum()),
            "rate": _r(placed.mean()) if n else None,
            "with_eligible_option": int(has_option.sum()),
            "rate_among_eligible": _r(placed[has_option].mean()) if has_option.any() else None,
        },
        **body,
        "proxies": proxies,
        "flags": flags,
    } | ({} if routed is None else {"guaranteed_routes": route_rates(protected, routed, placed)})


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def _table(groups: list[dict[str, Any]]) -> list[str]:
    lines = ["| " + " | ".join([_("group"), _("people"), _("placed"), _("rate"),
                                _("95% interval"), _("note")]) + " |",
             "|---|---:|---:|---:|---|---|"]
    for g in groups:
        note = "" if g["status"] == "ok" else _(SMALL_GROUP).format(n=MIN_GROUP)
        lines.append(f"| {W.group(g['group'])} | {g['size']} | {g['placed']} | {_pct(g['rate'])} | "
                     f"{_pct(g['ci'][0])} - {_pct(g['ci'][1])} | {note} |")
    return lines


#: The note beside a group too small for a verdict.
SMALL_GROUP = N_("small group (under {n}): no verdict")


def _ratio_line(label: str, m: dict[str, Any]) -> str:
    if m["verdict"] == INSUFFICIENT:
        return "- " + _("{label}: too little data (fewer than two groups of at least {n} "
                        "people); no verdict.").format(label=label, n=MIN_GROUP)
    mark = _("ok")
    if m["flag"]:
        mark = (_("**FLAG**: below the four-fifths rule, clearly (the whole interval is below)")
                if m["clear"] else
                _("**FLAG**: below the four-fifths rule; the interval reaches 0.8, so it may be "
                  "chance: watch the next rounds"))
    return "- " + _("{label}: {ratio:.2f} (95% interval {low:.2f} - {high:.2f}); lowest {lowest}, "
                    "highest {highest}: {mark}.").format(
        label=label, ratio=m["ratio"], low=m["ci"][0], high=m["ci"][1],
        lowest=W.group(m["lowest"]), highest=W.group(m["highest"]), mark=mark)


def _group_words(entry: dict[str, Any]) -> str:
    """A plain summary of one attribute's placement table (B1)."""
    groups = [g for g in entry["placement"] if g["rate"] is not None]
    if len(groups) < 2:
        return ""
    hi = max(groups, key=lambda g: (g["rate"], g["group"]))
    lo = min(groups, key=lambda g: (g["rate"], g["group"]))
    text = _("In short: of the group {hi}, {hi_pct} got a place; of the group {lo}, {lo_pct}.").format(
        hi=W.group(hi["group"]), hi_pct=_pct(hi["rate"]), lo=W.group(lo["group"]),
        lo_pct=_pct(lo["rate"]))
    if any(g["status"] != "ok" for g in groups):
        text += " " + _("Some groups have fewer than {n} people. With so few people a "
                        "difference can be chance: the interval shows how wide it can be."
                        ).format(n=MIN_GROUP)
    elif entry["disparate_impact"]["flag"]:
        text += " " + _("That difference is larger than the four-fifths rule allows.")
    else:
        text += " " + _("That difference is within the four-fifths rule.")
    return text


def _flag_lines(audit: dict[str, Any]) -> list[str]:
    """The flags in words, from the figures (audit.json's `flags` keep their English text)."""
    out = []
    labels = {"disparate_impact": _("disparate impact"),
              "equal_opportunity": _("equal opportunity")}
    for where in ("attributes", "intersections"):
        for name, entry in audit[where].items():
            for metric, label in labels.items():
                m = entry[metric]
                if m["flag"]:
                    sure = (_("clear: the whole interval is below {t}") if m["clear"] else
                            _("the interval reaches {t}")).format(t=FOUR_FIFTHS)
                    out.append(_("{metric} for {name}: {lowest} {ratio:.2f} of {highest} "
                                 "(interval {low:.2f}-{high:.2f}; {sure})").format(
                        metric=label, name=W.attribute(name), lowest=W.group(m["lowest"]),
                        ratio=m["ratio"], highest=W.group(m["highest"]), low=m["ci"][0],
                        high=m["ci"][1], sure=sure))
    out += [_("proxy: {input} carries {attribute} ({measure} {value:.2f})").format(
        input=W.words(W.INPUT_WORDS, p["input"]), attribute=W.attribute(p["attribute"]),
        measure=W.words(W.MEASURE_WORDS, p["measure"]), value=p["value"])
        for p in audit["proxies"] if p["level"] == "strong"]
    return out


def _lead(audit: dict[str, Any]) -> list[str]:
    """The opening paragraphs: the outcome and the verdict in plain words."""
    o = audit["overall"]
    flags = _flag_lines(audit)
    judged = any(e["disparate_impact"]["verdict"] != INSUFFICIENT
                 for e in audit["attributes"].values())
    verdict = (_("No group got clearly fewer chances in this round.") if judged else
               _("The groups are too small for a verdict in this round: read the figures as a "
                 "first look only."))
    if flags:
        verdict = ngettext("There is {n} point to look at: see 'Flags'.",
                           "There are {n} points to look at: see 'Flags'.", len(flags)
                           ).format(n=len(flags))
    return [_("{placed} of {candidates} people got a next step ({rate}); {eligible} had at least "
              "one option that fits the hard rules, and {rate_eligible} of them were placed."
              ).format(placed=o["placed"], candidates=o["candidates"], rate=_pct(o["rate"]),
                       eligible=o["with_eligible_option"],
                       rate_eligible=_pct(o["rate_among_eligible"])) + " " + verdict, "",
            _("Protected attributes are never used to score or to match. They are used only "
              "here, to check that groups get equal chances. Groups under {n} people are too "
              "small for a verdict. The disparate-impact ratio is the lowest group rate divided "
              "by the highest; below {t} it is flagged (the four-fifths rule). Equal opportunity "
              "uses only people who had at least one eligible option. Every rate has a 95% "
              "interval: the true rate lies in it in 95 of 100 cases.").format(
                  n=MIN_GROUP, t=FOUR_FIFTHS), ""]


def audit_markdown(audit: dict[str, Any]) -> str:
    """The readable audit section of the round's report, in the current language."""
    out = ["# " + _("Equal chances: audit of this round"), "", *_lead(audit)]
    flags = _flag_lines(audit)
    out += ["## " + _("Flags"), "", *([f"- {f}" for f in flags] or [_("No flags.")]), ""]
    titles = {"attributes": _("Attribute"), "intersections": _("Intersection")}
    for where, title in titles.items():
        for name, entry in audit[where].items():
            if where == "intersections" and entry.get("large_groups", 0) < 2:
                continue
            summary = _group_words(entry)
            out += [f"## {title}: {W.attribute(name)}", "",
                    _("{people} people with this recorded; {not_given} not given.").format(
                        people=entry["people"], not_given=entry["not_given"]),
                    "", *_table(entry["placement"]), "", *([summary, ""] if summary else []),
                    _ratio_line(_("Disparate impact (placement)"), entry["disparate_impact"]),
                    _ratio_line(_("Equal opportunity (placement among people with an eligible "
                                  "option)"), entry["equal_opportunity"]), ""]
    small = [W.attribute(n) for n, e in audit["intersections"].items()
             if e.get("large_groups", 0) < 2]
    if small:
        out += ["## " + _("Intersections with too little data"), "",
                _("{names}: too little data for a verdict (see audit.json for the counts)."
                  ).format(names=", ".join(small)), ""]
    if "guaranteed_routes" in audit:
        out += route_markdown(audit["guaranteed_routes"])
    out += _proxy_section(audit["proxies"])
    return "\n".join(out) + "\n"


def _proxy_section(proxies: list[dict[str, Any]]) -> list[str]:
    head = [_("input"), _("attribute"), _("measure"), _("value"), _("level")]
    out = ["## " + _("Proxies: scoring inputs that go together with a group"), "",
           _("Values from 0 (no link) to 1 (the input tells the group). From {strong} on the "
             "input carries the group: check whether that input is fair for this option."
             ).format(strong=STRONG), "",
           "| " + " | ".join(head) + " |", "|---|---|---|---:|---|"]
    out += [f"| {W.words(W.INPUT_WORDS, p['input'])} | {W.attribute(p['attribute'])} | "
            f"{W.words(W.MEASURE_WORDS, p['measure'])} | {p['value']:.2f} | "
            f"{W.words(W.LEVEL_WORDS, p['level'])} |" for p in proxies]
    return out


def _as_files(audit: dict[str, Any]) -> dict[str, bytes]:
    return {"audit.json": (json.dumps(audit, indent=2) + "\n").encode("utf-8"),
            "audit.md": audit_markdown(audit).encode("utf-8")}


def audit_files(rnd: Round, protected_path: Path,
                protected: tuple[pd.DataFrame, str] | None = None) -> dict[str, bytes]:
    """audit.json and audit.md for a round (raises InputError on a bad protected.csv).
    `protected` is `load_protected`'s result when the caller read the file already (the CLI
    reads it before the round, so a bad file stops the round before its work)."""
    if protected is None:
        protected = load_protected(protected_path, rnd.instance.candidates["candidate_id"])
    return _as_files(audit_round(rnd, *protected))


def audit_written_round(inst: Instance, round_dir: Path, protected_path: Path) -> dict[str, bytes]:
    """Audit a round from its written files (round.json, assignments.csv, edges.csv).

    The data folder must be the round's input: its content hash must equal round.json's.
    """
    round_dir = Path(round_dir)
    problems = Problems()
    meta_path = round_dir / "round.json"
    if not meta_path.is_file():
        raise InputError([Problem(str(round_dir), None, None, "no round.json: not a round folder")])
    meta = json.loads(meta_path.read_text("utf-8"))
    if meta.get("input_hash") != inst.content_hash:
        raise InputError([Problem("round.json", None, "input_hash",
                                  "the round was made from other input than this data folder")])
    assign = read_table(round_dir / "assignments.csv", problems, ("candidate_id",), output=True)
    edges = read_table(round_dir / "edges.csv", problems, ("candidate_id", "eligible"),
                       output=True)
    problems.raise_if_errors()
    assert assign is not None and edges is not None
    ids = pd.Index(inst.candidates["candidate_id"])
    placed = np.zeros(inst.n_candidates, dtype=bool)
    placed[ids.get_indexer(assign["candidate_id"])] = True
    routed = None
    if "next_option_id" in assign.columns:
        routed = np.zeros(inst.n_candidates, dtype=bool)
        routed[ids.get_indexer(assign.loc[assign["next_option_id"] != "", "candidate_id"])] = True
    ok = edges["eligible"].str.lower().isin(["true", "1", "yes"]).to_numpy()
    has_option = np.zeros(inst.n_candidates, dtype=bool)
    has_option[ids.get_indexer(edges.loc[ok, "candidate_id"])] = True
    protected, digest = load_protected(protected_path, inst.candidates["candidate_id"])
    return _as_files(audit_outcomes(inst, str(meta.get("policy_hash", "")), placed, has_option,
                                    protected, digest, routed))
