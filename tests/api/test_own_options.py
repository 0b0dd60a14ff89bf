"""The pages' option lists: a service point sees exactly its own organisations' options (with
their organisations' names), another organisation's option is not there, as a missing one."""

from __future__ import annotations

import pandas as pd

from api.security import Caller, Role
from api.services.own_options import option_for, options_for
from tests.api.conftest import PILOT, Api


def _caller(role: Role, orgs: tuple[str, ...] = ()) -> Caller:
    return Caller(key_id=1, role=role, organisations=frozenset(orgs))


def test_service_point_sees_its_organisations_options_only(sqlite_api: Api) -> None:
    sqlite_api.import_pilot()
    db = sqlite_api.app.state.db
    options = pd.read_csv(PILOT / "options.csv", dtype=str, keep_default_na=False)
    orgs = pd.read_csv(PILOT / "organisations.csv", dtype=str, keep_default_na=False)
    names = dict(zip(orgs["organisation_id"], orgs["name"], strict=True))
    for own in (("TCK",), ("IDID", "SPEC"), ("NOPE",)):
        seen = options_for(db, _caller(Role.employer_service_point, own))
        expected = set(options.loc[options["organisation_id"].isin(own), "option_id"])
        assert {o["option_id"] for o in seen} == expected
        assert all(o["organisation_name"] == names[o["organisation_id"]] for o in seen)
    everything = options_for(db, _caller(Role.coordinator))
    assert {o["option_id"] for o in everything} == set(options["option_id"])
    order = [(o["organisation_name"], o["name"]) for o in everything]
    assert order == sorted(order)


def test_another_organisations_option_is_as_missing(sqlite_api: Api) -> None:
    sqlite_api.import_pilot()
    db = sqlite_api.app.state.db
    tck = _caller(Role.employer_service_point, ("TCK",))
    mine = option_for(db, tck, "TCK-KEUKEN")
    assert mine is not None and mine["organisation_name"] == "The Colour Kitchen"
    assert option_for(db, tck, "IDID-NAAIATELIER") is None
    assert option_for(db, tck, "NO-SUCH-OPTION") is None
    assert option_for(db, _caller(Role.coordinator), "IDID-NAAIATELIER") is not None
