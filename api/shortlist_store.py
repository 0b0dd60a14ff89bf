"""The database side of reading shortlists and of what happens to them afterwards (closing,
feedback), through SQLAlchemy sessions. Issuing has its own, faster store (`api.shortlist_tx`).

Only queries live here: who may see what, and what an answer looks like, is the services'
(`api.shortlist_service`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from api.models import Shortlist, ShortlistEntry, ShortlistFeedback


def get(s: Session, shortlist_id: int) -> Shortlist | None:
    return s.get(Shortlist, shortlist_id)


def latest_open(s: Session, key_id: int, option_id: str, since: str) -> Shortlist | None:
    """The newest shortlist this key issued for the option that is neither closed nor older
    than `since`."""
    return s.scalars(select(Shortlist).where(
        Shortlist.option_id == option_id, Shortlist.key_id == key_id,
        Shortlist.closed_at.is_(None), Shortlist.issued_at >= since)
        .order_by(Shortlist.id.desc()).limit(1)).first()


def page(s: Session, orgs: frozenset[str] | None, option_id: str | None, status: str,
         since: str, offset: int, limit: int) -> tuple[int, list[Shortlist]]:
    """(total, one page by id) of the shortlists of these organisations (None: all);
    status: open (not closed, issued at or after `since`), closed (closed or expired) or all."""
    where: list[ColumnElement[bool]] = []
    if orgs is not None:
        where.append(Shortlist.organisation_id.in_(sorted(orgs)))
    if option_id is not None:
        where.append(Shortlist.option_id == option_id)
    if status == "open":
        where += [Shortlist.closed_at.is_(None), Shortlist.issued_at >= since]
    elif status == "closed":
        where.append((Shortlist.closed_at.is_not(None)) | (Shortlist.issued_at < since))
    total = s.scalar(select(func.count()).select_from(Shortlist).where(*where)) or 0
    rows = s.scalars(select(Shortlist).where(*where).order_by(Shortlist.id)
                     .offset(offset).limit(limit)).all()
    return total, list(rows)


def feedback(s: Session, shortlist_ids: Sequence[int]) -> dict[int, list[ShortlistFeedback]]:
    """Feedback per shortlist, oldest first."""
    out: dict[int, list[ShortlistFeedback]] = {i: [] for i in shortlist_ids}
    if shortlist_ids:
        for f in s.scalars(select(ShortlistFeedback)
                           .where(ShortlistFeedback.shortlist_id.in_(list(shortlist_ids)))
                           .order_by(ShortlistFeedback.id)):
            out[f.shortlist_id].append(f)
    return out


def close(s: Session, sl: Shortlist, at: str) -> None:
    """Close the shortlist: its entries no longer hold cap slots."""
    sl.closed_at = at
    s.execute(update(ShortlistEntry).where(ShortlistEntry.shortlist_id == sl.id)
              .values(closed=True))


def on_shortlist(s: Session, shortlist_id: int, candidate_id: str) -> bool:
    return s.scalar(select(ShortlistEntry.id).where(
        ShortlistEntry.shortlist_id == shortlist_id,
        ShortlistEntry.candidate_id == candidate_id).limit(1)) is not None


def latest_feedback(s: Session, shortlist_id: int, candidate_id: str) -> ShortlistFeedback | None:
    return s.scalars(select(ShortlistFeedback).where(
        ShortlistFeedback.shortlist_id == shortlist_id,
        ShortlistFeedback.candidate_id == candidate_id)
        .order_by(ShortlistFeedback.id.desc()).limit(1)).first()


def pending_hire(s: Session, candidate_id: str) -> ShortlistFeedback | None:
    """The candidate's reported hire that no coordinator has resolved yet, if any."""
    return s.scalars(select(ShortlistFeedback).where(
        ShortlistFeedback.candidate_id == candidate_id, ShortlistFeedback.kind == "hired",
        ShortlistFeedback.resolution.is_(None)).limit(1)).first()


def get_feedback(s: Session, shortlist_id: int, feedback_id: int) -> ShortlistFeedback | None:
    f = s.get(ShortlistFeedback, feedback_id)
    return f if f is not None and f.shortlist_id == shortlist_id else None


def leave(s: Session, candidate_id: str, shortlist_id: int, here: bool) -> list[int]:
    """Close the candidate's open entries: on this shortlist (`here`) or on every other one;
    the ids of the shortlists whose entry closed."""
    where = [ShortlistEntry.candidate_id == candidate_id, ShortlistEntry.closed.is_(False),
             (ShortlistEntry.shortlist_id == shortlist_id) if here
             else (ShortlistEntry.shortlist_id != shortlist_id)]
    ids = sorted(set(s.scalars(select(ShortlistEntry.shortlist_id).where(*where))))
    if ids:
        s.execute(update(ShortlistEntry).where(*where).values(closed=True))
    return ids


def left(s: Session, shortlist_ids: Sequence[int]) -> dict[int, list[str]]:
    """Per shortlist: candidates whose entry is closed (on a shortlist that is not)."""
    out: dict[int, list[str]] = {i: [] for i in shortlist_ids}
    if shortlist_ids:
        for sid, cid in s.execute(
                select(ShortlistEntry.shortlist_id, ShortlistEntry.candidate_id)
                .join(Shortlist, Shortlist.id == ShortlistEntry.shortlist_id)
                .where(ShortlistEntry.shortlist_id.in_(list(shortlist_ids)),
                       ShortlistEntry.closed.is_(True), Shortlist.closed_at.is_(None))
                .order_by(ShortlistEntry.shortlist_id, ShortlistEntry.rank)):
            out[sid].append(cid)
    return out
