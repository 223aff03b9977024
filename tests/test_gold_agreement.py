"""scripts/gold_agreement.py: the labellers' agreement and the records to adjudicate."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "gold_agreement", ROOT / "scripts" / "gold_agreement.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
