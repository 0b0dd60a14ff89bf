"""Starting a round (API and pages alike): who may start which kind, the policy with its
overrides, the snapshot and its job in the durable queue; small rounds run at once in the
caller's request when asked."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from api import rounding, storage_errors
from api.security import Caller, Role
from matcher.i18n import N_, _

if TYPE_CHECKING:
    from api.appstate import AppState

log = logging.getLogger(__name__)
PLANNER_SCENARIO = N_("planners may run scenario rounds only")


class RoundRefused(Exception):
    def __init__(self, status: int, template: str) -> None:
        super().__init__(template)
        self.status, self.template = status, template

    def translated(self) -> str:
        return _(self.template)


def start_round(state: AppState, caller: Caller, kind: str,
                overrides: dict[str, Any] | None = None, run_small_now: bool = True,
                previous_round_id: int | None = None) -> tuple[int, bool]:
    """(round id, queued): queued for a job worker, or (small rounds with `run_small_now`)
    solved in this call. Raises RoundRefused, or InputError for a bad policy or no data.

    A small round whose result cannot be stored (a full or read-only disk) is left queued: the
    round and its job are stored, and a worker takes the job up again when its lease expires."""
    if caller.role is Role.planner and kind != "scenario":
        raise RoundRefused(403, PLANNER_SCENARIO)
    settings, runner = state.settings, state.runner
    policy = rounding.resolve_policy(state.policy, overrides)
    sync_max = settings.sync_round_max_candidates if run_small_now else -1
    round_id, _, claim = rounding.create(
        state.db, policy, kind, caller.key_id, settings.job_max_attempts, runner.name,
        sync_max, settings.job_lease_seconds, previous_round_id)
    if claim is None:
        return round_id, True
    try:
        runner.run(claim)
    except Exception as exc:
        if storage_errors.answer(exc) is None:
            raise
        log.warning("round %d: storing its result failed (%s); left to a worker", round_id, exc)
        return round_id, True
    return round_id, False
