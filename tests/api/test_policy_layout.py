"""The solver's settings in tables ([solver.lagrangian], [solver.quota], [solver.polish],
[solver.warm], [solver.decompose]): a policy file in the flat layout before them is refused
naming each key's new place; flat overrides sent to the API and policies stored with earlier API
rounds are translated (`matcher.policy.nest_solver_keys`)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from api.models import Round
from matcher.cli import app
from matcher.errors import InputError
from matcher.policy import (
    SOLVER_TABLES,
    default_policy,
    load_policy,
    nest_solver_keys,
    policy_from_dict,
    policy_from_flat,
    stored_policy,
)
from tests.api.conftest import Api

POLICIES = Path(__file__).resolve().parents[2] / "matcher" / "policy"


def flatten(solver: dict[str, Any]) -> dict[str, Any]:
    """The flat layout of a nested [solver] table (as policies were written before)."""
    out: dict[str, Any] = {}
    for key, value in solver.items():
        if key in SOLVER_TABLES:
            out |= {SOLVER_TABLES[key] + k: v for k, v in value.items()}
        elif key == "parts":
            out[key] = flatten(value)
        else:
            out[key] = value
    return out


def flat_file(name: str) -> dict[str, Any]:
    data = tomllib.loads((POLICIES / name).read_text("utf-8"))
    return data | {"solver": flatten(data["solver"])}


@pytest.mark.parametrize("name", ["default.toml", "regional.toml", "national.toml"])
def test_the_translation_gives_the_nested_policy(name: str) -> None:
    flat = flat_file(name)
    assert "lagrangian_iterations" in flat["solver"] or name != "default.toml"
    nested = tomllib.loads((POLICIES / name).read_text("utf-8"))
    assert nest_solver_keys(flat) == nested
    assert policy_from_flat(flat, name).hash == load_policy(POLICIES / name).hash
    assert nest_solver_keys(nested) == nested  # the nested layout passes unchanged


def test_a_flat_policy_file_is_refused_naming_the_new_key(tmp_path: Path) -> None:
    old = tmp_path / "old.toml"
    old.write_text("[solver]\nexact_max_pairs = 0\nlagrangian_iterations = 8\n"
                   "[solver.parts]\nquota_flow_rounds = 0\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["--lang", "en", "run", "--policy", str(old),
                                      "--out", str(out)])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "solver.lagrangian_iterations" in text and "[solver.lagrangian] iterations" in text
    assert "solver.parts.quota_flow_rounds" in text and "[solver.parts.quota] rounds" in text
    assert not out.exists()
    with pytest.raises(InputError) as err:
        policy_from_dict({"solver": {"warm_iterations": 3}}, "p.toml")
    assert [p.column for p in err.value.problems] == ["solver.warm_iterations"]


def test_a_what_if_edit_of_a_flat_key_names_the_new_one() -> None:
    from matcher.whatif.edits import apply_edits
    from matcher.whatif.engine import load_baseline

    base = load_baseline(POLICIES.parent / "data" / "pilot", default_policy())
    with pytest.raises(InputError, match=r"is now 'solver\.warm\.iterations'"):
        apply_edits(base.raw, base.policy, ("policy.solver.warm_iterations=3",), (), (), ())
    edited = apply_edits(base.raw, base.policy, ("policy.solver.warm.iterations=3",), (), (), ())
    assert edited.policy.solver.warm.iterations == 3


def test_the_api_takes_flat_and_nested_overrides_alike(api: Api) -> None:
    api.import_pilot()
    flat = api.round("planner", kind="scenario",
                     policy={"solver": {"lagrangian_iterations": 8, "exact_max_pairs": 0}})
    nested = api.round("planner", kind="scenario",
                       policy={"solver": {"lagrangian": {"iterations": 8}, "exact_max_pairs": 0}})
    assert flat["status"] == nested["status"] == "done"
    assert flat["policy_hash"] == nested["policy_hash"] != api.round()["policy_hash"]
    r = api.post("/v1/rounds", "planner", json={"kind": "scenario",
                                                "policy": {"solver": {"lagrangian_itrations": 8}}})
    assert r.status_code == 422
    assert any(p["field"] == "solver.lagrangian_itrations" for p in r.json()["problems"])


def test_a_round_stored_with_a_flat_policy_still_explains(api: Api) -> None:
    api.import_pilot()
    rnd = api.round()
    a = api.all_items(f"/v1/rounds/{rnd['id']}/assignments")[0]
    dump = default_policy().model_dump(mode="json")
    old = dump | {"solver": flatten(dump["solver"])}
    assert stored_policy(old) == default_policy()
    with api.app.state.db.write() as s:
        s.execute(update(Round).where(Round.id == rnd["id"]).values(policy=old))
    r = api.get(f"/v1/rounds/{rnd['id']}/explain/{a['candidate_id']}")
    assert r.status_code == 200, r.text
