"""Coordinators' decision history -> the decisions in force for the next round.

Plain pandas over an event table (candidate_id, option_id, kind, reason, in time order):

- ``accept`` (a proposed match) and ``lock`` commit the candidate to the option: a lock;
- ``reject`` (a proposed match) and ``forbid`` keep the pair apart: a forbid;
- ``release`` withdraws the earlier decision on the pair.

The latest event per pair is in force; the history itself is never changed. An event may name
a ``next_option_id`` (the participation chain): then it decides on the route from the option (a
programme) to that place; a lock or accept of a route holds the place too. The pair is still the
key: a later event on the pair (a route or not) replaces it, and ``release`` of the pair
withdraws it.
"""

from __future__ import annotations

import pandas as pd

EVENT_KINDS = ("accept", "reject", "lock", "forbid", "release")
IN_FORCE = {"accept": "lock", "lock": "lock", "reject": "forbid", "forbid": "forbid"}


def decisions_in_force(events: pd.DataFrame) -> pd.DataFrame:
    """candidate_id, option_id, decision (lock/forbid), reason: the latest event per pair
    (and next_option_id, when the events have that column: '' for a pair, else the route's
    place).

    `events` must be in the order the decisions were taken (oldest first).
    """
    cols = ["candidate_id", "option_id", "decision", "reason",
            *(["next_option_id"] if "next_option_id" in events else [])]
    if events.empty:
        return pd.DataFrame({c: pd.Series(dtype=str) for c in cols})
    last = events.drop_duplicates(["candidate_id", "option_id"], keep="last")
    last = last[last["kind"] != "release"]
    out = pd.DataFrame({
        "candidate_id": last["candidate_id"].astype(str),
        "option_id": last["option_id"].astype(str),
        "decision": last["kind"].map(IN_FORCE),
        "reason": last["reason"].astype(str),
    })
    if "next_option_id" in last:
        out["next_option_id"] = last["next_option_id"].fillna("").astype(str)
    return out.sort_values(["candidate_id", "option_id"], kind="stable").reset_index(drop=True)


def committed_elsewhere(in_force: pd.DataFrame, candidate_id: str, option_id: str) -> str | None:
    """The option another lock commits this candidate to, if any."""
    locks = in_force[(in_force["decision"] == "lock") & (in_force["candidate_id"] == candidate_id)
                     & (in_force["option_id"] != option_id)]
    return None if locks.empty else str(locks["option_id"].iat[0])
