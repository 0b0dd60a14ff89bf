"""The equal-chances audit of a stored round (as ``matcher audit`` for a written one): group
placement rates, disparate impact and equal opportunity, from the round rebuilt from its
snapshot and the protected attributes stored now. Only group counts leave this module, never a
person's attribute."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from api.db import Database
from api.models import Protected
from api.rounding import Replays
from matcher.audit import audit_round
from matcher.audit.protected import ATTRIBUTES, NOT_GIVEN


def protected_frame(db: Database, candidate_ids: np.ndarray) -> pd.DataFrame:
    """The stored protected attributes aligned with `candidate_ids` ("" where not given)."""
    with db.session() as s:
        rows = {r.candidate_id: r.data for r in s.scalars(select(Protected))}
    attrs = [a for a in ATTRIBUTES if any(a in d for d in rows.values())]

    def value(cid: str, a: str) -> str:
        v = str(rows.get(cid, {}).get(a, "")).strip()
        return "" if v.lower() in NOT_GIVEN else v

    return pd.DataFrame({a: np.array([value(str(c), a) for c in candidate_ids], dtype=object)
                         for a in attrs})


def round_audit(replays: Replays, db: Database, round_id: int) -> dict[str, Any] | None:
    """audit.json's content for a finished round; None when no protected attributes are
    stored (raises as Replays.get: 404, 409, 410)."""
    rnd = replays.get(db, round_id)
    protected = protected_frame(db, rnd.instance.candidates["candidate_id"].to_numpy())
    if protected.empty or not len(protected.columns):
        return None
    return audit_round(rnd, protected)
