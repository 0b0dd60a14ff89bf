"""Shortlists: committed candidates left out, the open-shortlist cap, closing, counts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from matcher.load import build_instance, load_instance
from matcher.policy import default_policy
from matcher.scoring import components
from matcher.shortlist import shortlist
from matcher.shortlist_index import first_asked, rank_options, select, shortlist_frame
from tests.api.conftest import PILOT, Api, make_api


@pytest.fixture
def capped_api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    policy = tmp_path / "policy.toml"
    policy.write_text("[shortlist]\nmax_open_shortlists = 1\nopen_days = 7\n")
    yield from make_api(database_url, policy_path=policy)


def test_cap_keeps_candidates_from_being_put_forward_everywhere(capped_api: Api) -> None:
    api = capped_api
    api.import_pilot()
    a = api.post("/v1/options/TCK-KEUKEN/shortlist?k=50", "esp_tck").json()
    first = {e["candidate_id"] for e in a["entries"]}
    assert first and all(e["other_open_shortlists"] == 0 for e in a["entries"])
    # The same option again: its own earlier shortlist does not count against it.
    again = api.post("/v1/options/TCK-KEUKEN/shortlist?k=50", "esp_tck").json()
    assert {e["candidate_id"] for e in again["entries"]} == first
    # Another option: everyone on TCK-KEUKEN's open shortlist is at the cap (1) and left out.
    b = api.post("/v1/options/TCK-BEDIENING/shortlist?k=50").json()
    assert not first & {e["candidate_id"] for e in b["entries"]}
    # Closing both TCK-KEUKEN shortlists frees them again, now counted on B's open shortlist.
    for sl in (a, again):
        assert api.post(f"/v1/shortlists/{sl['id']}/close", "esp_tck").status_code == 200
    b2 = api.post("/v1/options/TCK-BEDIENING/shortlist?k=50").json()
    assert first & {e["candidate_id"] for e in b2["entries"]}
    assert a["open_until"] > a["issued_at"]
    # Another service point cannot close (or see) TCK's shortlist.
    assert api.post(f"/v1/shortlists/{a['id']}/close", "esp_idid").status_code == 404


def test_counts_other_open_shortlists(api: Api) -> None:
    api.import_pilot()
    a = api.post("/v1/options/TCK-KEUKEN/shortlist?k=50").json()
    b = api.post("/v1/options/TCK-BEDIENING/shortlist?k=50").json()
    on_a = {e["candidate_id"] for e in a["entries"]}
    for e in b["entries"]:
        assert e["other_open_shortlists"] == (1 if e["candidate_id"] in on_a else 0)
    ranks = [e["rank"] for e in b["entries"]]
    scores = [e["score"] for e in b["entries"]]
    assert ranks == list(range(1, len(ranks) + 1)) and scores == sorted(scores, reverse=True)


def test_committed_and_forbidden_candidates_are_left_out(api: Api) -> None:
    api.import_pilot()
    before = api.post("/v1/options/TCK-KEUKEN/shortlist?k=50").json()["entries"]
    ids = [e["candidate_id"] for e in before]
    assert "P-007" not in ids  # locked to COMPASS-CATERING by the pilot decisions
    top, second = ids[0], ids[1]
    api.post("/v1/decisions", json={"candidate_id": top, "option_id": "IDID-NAAIATELIER",
                                    "kind": "lock", "reason": "placed elsewhere"})
    api.post("/v1/decisions", json={"candidate_id": second, "option_id": "TCK-KEUKEN",
                                    "kind": "forbid", "reason": "asked not to"})
    after = [e["candidate_id"] for e in
             api.post("/v1/options/TCK-KEUKEN/shortlist?k=50").json()["entries"]]
    assert top not in after and second not in after
    assert after == [c for c in ids if c not in (top, second)]
    here = api.post("/v1/options/IDID-NAAIATELIER/shortlist?k=50").json()["entries"]
    assert [e["locked_here"] for e in here if e["candidate_id"] == top] in ([True], [])


def test_precomputed_ranking_equals_the_library_shortlist() -> None:
    inst, _ = load_instance(PILOT)
    policy = default_policy()
    ranking = rank_options(inst, policy)
    locks = inst.locks()
    for opt, option_id in enumerate(inst.options["option_id"]):
        excluded = np.concatenate([locks.loc[locks["opt"] != opt, "cand"].to_numpy(),
                                   inst.forbids().query("opt == @opt")["cand"].to_numpy()])
        sel = select(ranking, opt, 7, excluded, dict.fromkeys(range(inst.n_candidates), 0), 3)
        assert sel.complete
        got = shortlist_frame(ranking, sel.positions, sel.counts)
        want = shortlist(inst, policy, option_id, 7)
        assert got["candidate_id"].tolist() == want["candidate_id"].tolist()
        assert np.allclose(got["score"], want["score"])


def test_select_skips_capped_candidates_whatever_the_chunking() -> None:
    tables = {n: __import__("pandas").read_csv(PILOT / f"{n}.csv", dtype=str, keep_default_na=False)
              for n in ("organisations", "options", "candidates")}
    inst = build_instance(tables)
    ranking = rank_options(inst, default_policy())
    opt = ranking.option_row("TCK-KEUKEN")
    none = dict.fromkeys(range(inst.n_candidates), 0)
    full = select(ranking, opt, 100, np.zeros(0, int), none, 1).positions
    rng = np.random.default_rng(0)
    load = rng.integers(0, 3, inst.n_candidates)
    sel = select(ranking, opt, 3, np.zeros(0, int), dict(enumerate(load.tolist())), 2)
    keep = [p for p in full if load[ranking.edges.cand[p]] < 2][:3]
    assert sel.positions.tolist() == keep and (sel.counts < 2).all()


def test_select_names_the_candidates_whose_counts_it_still_needs() -> None:
    inst, _ = load_instance(PILOT)
    ranking = rank_options(inst, default_policy())
    opt = ranking.option_row("TCK-KEUKEN")
    k, nobody = 3, np.zeros(0, int)
    first = first_asked(ranking, opt, k, nobody)
    sel = select(ranking, opt, k, nobody, {}, 2)  # nothing known yet: it asks for the first rows
    assert not sel.complete and sel.unread.tolist() == first.tolist() and len(sel.positions) == 0
    known = {int(r): 2 for r in first}  # all of them at the cap: it asks for the next chunk
    more = select(ranking, opt, k, nobody, known, 2)
    assert not more.complete or len(more.positions) == 0
    assert not set(more.unread.tolist()) & set(known)
    everyone = dict.fromkeys(range(inst.n_candidates), 0) | known
    done = select(ranking, opt, k, nobody, everyone, 2)
    assert done.complete and not set(ranking.edges.cand[done.positions].tolist()) & set(known)


def test_entries_compute_components_for_the_chosen_pairs_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    inst, _ = load_instance(PILOT)
    policy = default_policy()
    ranking = rank_options(inst, policy)
    opt = ranking.option_row("TCK-KEUKEN")
    sel = select(ranking, opt, 2, np.zeros(0, int), dict.fromkeys(range(inst.n_candidates), 0), 3)
    # the old way: every pair's component, then the chosen positions
    want = {n: np.round(ranking.edges.components[n][sel.positions], 3) for n in components.COMPONENTS}
    sizes: list[int] = []
    for name, fn in list(components.COMPONENT_FUNCTIONS.items()):
        def counted(i, c, o, d, p, fn=fn):  # type: ignore[no-untyped-def]
            sizes.append(len(c))
            return fn(i, c, o, d, p)
        monkeypatch.setitem(components.COMPONENT_FUNCTIONS, name, counted)
    got = shortlist_frame(ranking, sel.positions, sel.counts)
    assert sizes and max(sizes) <= 2 < len(ranking.edges)
    for name in components.COMPONENTS:
        assert got[name].tolist() == want[name].tolist()
