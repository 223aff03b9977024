"""scripts/gold_agreement.py: the labellers' agreement and the records to adjudicate."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parents[1]


def _script():  # type: ignore[no-untyped-def]
    return load_script("scripts/gold_agreement.py")


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text("gold_id,setting,country,design,note\n" + "\n".join(rows) + "\n", "utf-8")
    return path


def test_country_sets_compare_in_any_order_and_disagreements_are_listed(tmp_path: Path) -> None:
    script = _script()
    a = _write(tmp_path / "a.csv", [
        "g1,acute-care,US;GB,quantitative,", "g2,community,NL,review,",
        "g3,not-stated,not-stated,quantitative,", "g4,primary-care,us,qualitative,",
    ])  # fmt: skip
    b = _write(tmp_path / "b.csv", [
        "g1,acute-care,gb; US,quantitative,", "g2,community,NL,quantitative,why",
        "g3,not-stated,not-stated,quantitative,", "g4,primary-care,US,qualitative,",
    ])  # fmt: skip
    la, lb = script.read_labels(a), script.read_labels(b)
    table = script.agreement(la, lb).set_index("facet")
    assert table.loc["country", "alike"] == 1.0 and table.loc["country", "kappa"] == 1.0
    assert table.loc["design", "alike"] == 0.75
    assert table.loc["design", "kappa"] == pytest.approx(0.556, abs=1e-3)  # (.75 - .4375) / .5625
    found = script.disagreements(la, lb)
    assert found[["gold_id", "facet", "label_a", "label_b"]].values.tolist() == [
        ["g2", "design", "review", "quantitative"]
    ]


def test_a_label_file_without_a_facet_is_refused(tmp_path: Path) -> None:
    script = _script()
    bad = tmp_path / "bad.csv"
    bad.write_text("gold_id,setting,design\ng1,acute-care,review\n", "utf-8")
    with pytest.raises(SystemExit, match="missing columns"):
        script.read_labels(bad)


def test_gold_is_agreed_or_adjudicated_and_every_disagreement_is_decided(tmp_path: Path) -> None:
    import pandas as pd

    script = _script()
    a = script.read_labels(
        _write(tmp_path / "a.csv", ["g1,acute-care,US,review,", "g2,community,NL,quantitative,"])
    )
    b = script.read_labels(
        _write(tmp_path / "b.csv", ["g1,not-stated,US,review,", "g2,community,NL,quantitative,"])
    )
    sample = pd.DataFrame({"gold_id": ["g1", "g2"], "dataset": ["d", "d"], "key": ["1", "2"]})
    with pytest.raises(SystemExit, match="not adjudicated"):
        script.reconcile(
            a, b, pd.DataFrame(columns=["gold_id", "facet", "label", "reason"]), sample
        )
    decided = pd.DataFrame(
        [{"gold_id": "g1", "facet": "setting", "label": "acute-care", "reason": "x"}]
    )
    gold = script.reconcile(a, b, decided, sample).set_index("gold_id")
    assert gold.loc["g1", "setting"] == "acute-care" and gold.loc["g2", "country"] == "NL"


def test_the_committed_gold_is_what_the_label_files_and_adjudications_give() -> None:
    import pandas as pd

    script = _script()
    folder = ROOT / "tests" / "fixtures" / "abstracts-gold"
    a = script.read_labels(folder / "labels-a.csv")
    b = script.read_labels(folder / "labels-b.csv")
    read = lambda name: pd.read_csv(folder / name, dtype=str, keep_default_na=False)  # noqa: E731
    gold = script.reconcile(a, b, read("adjudications.csv"), read("sample.csv"))
    pd.testing.assert_frame_equal(gold, read("gold.csv"))
    assert len(gold) == 300
