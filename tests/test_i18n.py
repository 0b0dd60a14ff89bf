"""Every text a person reads comes in Dutch (the default) and English, from shipped catalogues."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from matcher import catalogues, i18n
from matcher.cli import app
from matcher.errors import Problem, Problems
from matcher.i18n import language, problem_text
from matcher.policy import default_policy
from matcher.register import register_entry, register_markdown

PILOT = Path(__file__).resolve().parents[1] / "matcher" / "data" / "pilot"


def test_catalogues_are_complete_and_compiled() -> None:
    """The shipped .po/.mo hold every message of the code and templates, all translated to Dutch."""
    assert catalogues.main(["--check"]) == 0


def test_default_is_dutch_and_the_setting_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MATCHER_LANG")
    assert i18n.current_language() == "nl"
    monkeypatch.setenv("MATCHER_LANG", "en_GB.UTF-8")
    assert i18n.current_language() == "en"
    monkeypatch.setenv("MATCHER_LANG", "fr")
    assert i18n.current_language() == "nl"
    with language("en"):
        assert i18n._("row {row}") == "row {row}"
    with language("nl"):
        assert i18n._("row {row}") == "rij {row}"
    with pytest.raises(ValueError, match="nl, en"):
        i18n.set_language("de")


def test_problems_are_codes_rendered_in_either_language() -> None:
    problems = Problems()
    problems.add("candidates.xlsx", 7, "hours_available", "expected a number, got 'veel'",
                 sheet="candidates", code="bad_value",
                 params={"what": "expected a number", "value": "'veel'"})
    problems.add("options.csv", 3, "capacity", "x", code="bad_value",
                 params={"what": "must be at least {minimum}", "minimum": 0, "value": "'-1'"})
    p, q = problems.items
    with language("nl"):
        assert problem_text(p) == ("candidates.xlsx, blad candidates, rij 7, kolom hours_available: "
                                   "verwacht een getal, maar kreeg 'veel'")
        assert problem_text(q).endswith("moet minstens 0 zijn, maar kreeg '-1'")
    with language("en"):
        assert problem_text(p) == ("candidates.xlsx, sheet candidates, row 7, column "
                                   "hours_available: expected a number, got 'veel'")
        assert problem_text(q).endswith("must be at least 0, got '-1'")
    # a problem without a code is shown by its message
    with language("nl"):
        assert problem_text(Problem("x.csv", None, None, "table is missing")).endswith("tabel ontbreekt")


def test_cli_bad_input_in_dutch_and_english(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(PILOT, data)
    text = (data / "options.csv").read_text().splitlines()
    header = text[0].split(",")
    row = text[1].split(",")
    row[header.index("capacity")] = "veel"
    (data / "options.csv").write_text("\n".join([text[0], ",".join(row), *text[2:]]) + "\n")
    runner = CliRunner()
    nl = runner.invoke(app, ["--lang", "nl", "validate", str(data)])
    assert nl.exit_code == 2
    assert "fout: options.csv, rij 2, kolom capacity: verwacht een heel getal, maar kreeg 'veel'" in nl.output
    assert "1 probleem in de invoer; er is niets geschreven." in nl.output
    en = runner.invoke(app, ["--lang", "en", "validate", str(data)])
    assert "error: options.csv, row 2, column capacity: expected a whole number, got 'veel'" in en.output
    assert runner.invoke(app, ["--lang", "fr", "validate", str(data)]).exit_code == 2


def test_explanation_in_plain_dutch_and_english() -> None:
    runner = CliRunner()
    nl = runner.invoke(app, ["--lang", "nl", "explain", str(PILOT), "P-019"])
    assert nl.exit_code == 0, nl.output
    assert "Voorstel: geen plek in deze ronde." in nl.output
    assert "Dit is een voorstel. Een coördinator bekijkt het en beslist samen met u." in nl.output
    en = runner.invoke(app, ["--lang", "en", "explain", str(PILOT), "P-019"])
    assert "Proposal: no place in this round." in en.output
    # the same numbers in both: only the words differ
    digits = [[c for c in out if c.isdigit()] for out in (nl.output, en.output)]
    assert digits[0] == digits[1]


def test_language_does_not_change_the_policy_or_the_round(tmp_path: Path) -> None:
    runner = CliRunner()
    for lang in ("nl", "en"):
        result = runner.invoke(app, ["--lang", lang, "run", str(PILOT), "--out", str(tmp_path / lang)])
        assert result.exit_code == 0, result.output
    for name in ("assignments.csv", "unmatched.csv", "utilisation.csv", "edges.csv"):
        assert (tmp_path / "nl" / name).read_bytes() == (tmp_path / "en" / name).read_bytes()
    policy = default_policy()
    with language("nl"):
        nl = register_markdown(register_entry(policy, "x"))
    with language("en"):
        en = register_markdown(register_entry(policy, "x"))
    assert "## Korte omschrijving (B1)" in nl and "De computer helpt" in nl
    assert "## Short description (B1)" in en
    assert policy.hash in nl.replace("\n", " ") or policy.hash[:16] in nl


def test_round_summary_and_audit_in_the_readers_language(tmp_path: Path) -> None:
    """The summary's reasons and audit.md are words in Dutch or English; the records (CSV,
    audit.json) are the same bytes in both."""
    runner = CliRunner()
    out = {}
    for lang in ("nl", "en"):
        result = runner.invoke(app, ["--lang", lang, "run", str(PILOT), "--out",
                                     str(tmp_path / lang)])
        assert result.exit_code == 0, result.output
        out[lang] = result.output
    assert "niet gematcht: er was een plek" in out["nl"]  # (the table wraps the rest)
    assert "unmatched: a seat was free" in out["en"]
    assert "guidance_capacity_exh" not in out["nl"] + out["en"]
    nl = (tmp_path / "nl" / "audit.md").read_text()
    en = (tmp_path / "en" / "audit.md").read_text()
    assert nl.startswith("# Gelijke kansen: audit van deze ronde")
    assert en.startswith("# Equal chances: audit of this round")
    assert "## Kenmerk: geslacht" in nl and "| vrouw | 12 | 8 | 67% | 39% - 86% |" in nl
    assert "## Attribute: gender" in en and "| female | 12 | 8 | 67% | 39% - 86% |" in en
    assert "te klein voor een oordeel" in nl and "Kort gezegd:" in nl
    assert "insufficient data" not in nl and "kleine groep (minder dan 30)" in nl
    # the same numbers in both: only the words differ
    digits = [[c for c in t if c.isdigit()] for t in (nl, en)]
    assert digits[0] == digits[1]
    for name in ("assignments.csv", "unmatched.csv", "utilisation.csv", "edges.csv",
                 "audit.json"):
        assert (tmp_path / "nl" / name).read_bytes() == (tmp_path / "en" / name).read_bytes()
