"""The tagger scored on the real-abstract gold set (tests/fixtures/abstracts-gold)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from synth.cli import app
from synth.tagging.abstract_gold import TaggedGold, _country_exact, country_iso, load_gold_long

ROOT = Path(__file__).resolve().parents[2]
GOLD = ROOT / "tests" / "fixtures" / "abstracts-gold"
PEER = ROOT.parent / "shared" / "peer-data"


def test_gold_rows_not_stated_is_scored_as_no_label_and_countries_split() -> None:
    gold = load_gold_long(GOLD)
    assert set(gold["facet"]) == {"setting", "country", "design"}
    assert "not-stated" not in set(gold["label"])  # scored as not-applicable: no label is right
    assert (gold.groupby(["gold_id", "facet"]).size() >= 1).all()
    assert len(gold["gold_id"].unique()) == 300
    wide = pd.read_csv(GOLD / "gold.csv", dtype=str, keep_default_na=False)
    codes = gold[gold["facet"] == "country"].groupby("gold_id").size()
    multi = wide.loc[wide["country"].str.contains(";"), "gold_id"]
    assert all(codes[g] >= 2 for g in multi)  # a study in several countries: one row each


def test_tagger_country_labels_map_to_iso_codes() -> None:
    iso = country_iso()
    assert iso["United Kingdom"] == "GB" and iso["United States"] == "US"
    assert iso["Norway"] == "NO" and iso["Iran"] == "IR" and iso["Taiwan"] == "TW"
    assert "other-country" not in iso and "unclear" not in iso  # a label names one country


def test_country_accuracy_counts_exact_sets_where_a_country_is_named() -> None:
    gold = pd.DataFrame(
        [("g1", "country", "GB"), ("g2", "country", "US"), ("g2", "country", "CA"),
         ("g3", "country", "not-applicable"), ("g4", "country", "NL")],
        columns=["gold_id", "facet", "label"],
    )  # fmt: skip
    tags = pd.DataFrame(
        [("g1", "country", "United Kingdom", 0.9), ("g2", "country", "United States", 0.9),
         ("g3", "country", "United Kingdom", 0.9), ("g4", "country", "Netherlands", 0.3)],
        columns=["record_id", "facet", "label", "score"],
    )  # fmt: skip
    # g1 right; g2 misses Canada; g4's tag is below the threshold; g3 names none and gets
    # one: not counted in the accuracy where named, but the other figure's only miss
    assert _country_exact(tags, gold) == (3, 1, 1, 0)
    assert _country_exact(tags[tags.record_id != "g3"], gold) == (3, 1, 1, 1)


@pytest.mark.peer
def test_the_command_tags_and_scores_the_gold_set() -> None:
    if not PEER.is_dir():
        pytest.skip(f"peer data not found at {PEER}")
    result = CliRunner().invoke(
        app, ["tag", "evaluate-abstracts", "--gold-dir", str(GOLD), "--peer", str(PEER)]
    )
    assert result.exit_code == 0, result.output
    from synth.tagging.abstract_gold import evaluate_abstract_gold

    direct = evaluate_abstract_gold(GOLD, PEER)  # the command prints what the API computes
    assert f"300 records; country named in {direct.country_named}" in result.output
    summary = direct.summary().set_index("facet")
    for facet in ("setting", "country", "design"):
        macro = summary.loc[facet, "macro_f1"]
        assert 0 <= macro <= 1
        assert f"{facet}     {macro:.3f}" in result.output


@pytest.mark.peer
def test_the_command_prints_the_summary_per_source() -> None:
    if not PEER.is_dir():
        pytest.skip(f"peer data not found at {PEER}")
    args = ["tag", "evaluate-abstracts", "--gold-dir", str(GOLD), "--peer", str(PEER)]
    result = CliRunner().invoke(app, [*args, "--by-source"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["source", "records", "setting_macro"]
    # set 1's three sources, their records adding up to the set's 300
    table = lines[1 : lines.index("")] if "" in lines else lines[1:]
    counts = {line.split()[0]: int(line.split()[1]) for line in table}
    assert set(counts) == {"Nagtegaal_2019", "cohen2006", "screening-ptsd-vandeschoot-included-ris"}
    assert sum(counts.values()) == 300


def test_a_missing_peer_folder_is_one_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["tag", "evaluate-abstracts", "--gold-dir", str(GOLD), "--peer", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "gold dataset not found" in result.output and "Traceback" not in result.output


def test_the_dev_and_test_halves_split_the_gold_without_overlap() -> None:
    from synth.tagging.abstract_gold import in_split, load_gold_long, of_split

    gold = load_gold_long(GOLD)
    ids = set(gold["gold_id"])
    dev = {g for g in ids if in_split(g, "dev")}
    test = {g for g in ids if in_split(g, "test")}
    assert dev and test and not dev & test and dev | test == ids
    assert set(load_gold_long(GOLD, "test")["gold_id"]) == test
    assert set(of_split(gold, "dev")["gold_id"]) == dev  # one filter for loading and scoring
    with pytest.raises(ValueError, match="unknown split"):
        in_split("g001", "train")


def _tagged(rows: list[tuple[str, str, str, str]]) -> TaggedGold:
    """A TaggedGold from (gold_id, facet, gold label, predicted label or '')."""
    gold = pd.DataFrame(
        [(g, "d.csv", g, f, lab) for g, f, lab, _ in rows],
        columns=["gold_id", "dataset", "key", "facet", "label"],
    )
    tags = pd.DataFrame(
        [(g, f, p, 0.9, [], "rule", "rules:x") for g, f, _, p in rows if p],
        columns=["record_id", "facet", "label", "score", "evidence", "source", "version"],
    )
    return TaggedGold(gold, pd.DataFrame({"record_id": sorted({r[0] for r in rows})}), tags)


def test_side_by_side_scores_each_half_beside_the_bundled_gold() -> None:
    from synth.tagging.abstract_gold import side_by_side, side_by_side_text
    from synth.tagging.evaluate import evaluate

    real = _tagged(
        [("g001", "setting", "acute-care", "acute-care"),  # dev: right
         ("g003", "setting", "community", "community"),  # dev: right
         ("g002", "setting", "community", "acute-care"),  # test: wrong
         ("g004", "setting", "primary-care", "primary-care"),  # test: right
         *[(g, f, "not-applicable", "") for g in ("g001", "g002", "g003", "g004")
           for f in ("country", "design")]]
    )  # fmt: skip
    cols = ["record_id", "facet", "label"]
    bundled = evaluate(
        pd.DataFrame([("r1", "approach", "ebcd", 0.9)], columns=[*cols, "score"]),
        pd.DataFrame([("r1", "approach", "ebcd"), ("r2", "approach", "ppi")], columns=cols),
    )
    held_out = _tagged(
        [("g001", "setting", "community", "acute-care"),  # wrong
         ("g002", "setting", "community", "community"),  # right
         *[(g, f, "not-applicable", "") for g in ("g001", "g002") for f in ("country", "design")]]
    )  # fmt: skip
    table = side_by_side(
        real, bundled, bundled_name="kei-gold", others={"set 2 (held out)": held_out}
    )
    micro = table.xs("micro", level="average")
    assert micro.loc["setting", ("set 1: dev", "f1")] == 1.0
    assert micro.loc["setting", ("set 1: test", "f1")] == 0.5
    assert micro.loc["setting", ("set 1: all", "f1")] == 0.75
    assert micro.loc["setting", ("set 2 (held out)", "f1")] == 0.5  # set 2 whole, no halves
    assert micro.loc["approach", ("kei-gold", "recall")] == 0.5  # only the bundled gold has it
    assert pd.isna(micro.loc["approach", ("set 1: all", "f1")])
    assert pd.isna(micro.loc["setting", ("kei-gold", "f1")])
    assert list(table.index.get_level_values("facet").unique()) == [
        "setting", "country", "design", "approach",
    ]  # fmt: skip
    text = side_by_side_text(table)
    assert "set 2 (held out)" in text and "kei-gold" in text
    assert "codebook was written from that corpus" in text


def test_combined_sets_keep_records_with_the_same_id_apart() -> None:
    from synth.tagging.abstract_gold import combined

    def one(label: str) -> TaggedGold:
        gold = pd.DataFrame(
            [("g001", "d.csv", "1", "design", label)],
            columns=["gold_id", "dataset", "key", "facet", "label"],
        )
        records = pd.DataFrame({"record_id": ["g001"], "title": [f"a {label} paper"]})
        tags = pd.DataFrame(
            {"record_id": ["g001"], "facet": ["design"], "label": [label], "score": [0.9]}
        )
        return TaggedGold(gold, records, tags)

    both = combined({"set1": one("review"), "set3": one("quantitative")})
    assert both.gold_rows()[["record_id", "label"]].values.tolist() == [
        ["set1:g001", "review"],
        ["set3:g001", "quantitative"],
    ]
    assert both.records["record_id"].tolist() == ["set1:g001", "set3:g001"]
    assert both.tags.set_index("record_id")["label"].to_dict() == {
        "set1:g001": "review",
        "set3:g001": "quantitative",
    }


def test_the_summary_per_source_scores_each_source_on_its_own_records() -> None:
    from synth.tagging.abstract_gold import source_of

    assert source_of("screening/cohen2006_ADHD.csv") == "cohen2006"
    assert source_of("screening/Nagtegaal_2019.csv") == "Nagtegaal_2019"
    assert source_of("formats/asreview-demo-data/scopus.ris") == "asreview-demo-data"
    assert source_of("screening/van_de_Schoot_2017.csv") == "van_de_Schoot_2017"
    assert source_of("screening/Kitchenham_2010.csv") == "Kitchenham_2010"
    datasets = {"g001": "screening/cohen2006_ADHD.csv", "g002": "screening/cohen2006_NSAIDS.csv",
                "g003": "screening/Nagtegaal_2019.csv"}  # fmt: skip
    rows = [
        ("g001", "setting", "acute-care", "acute-care"),  # drug trial: right
        ("g002", "setting", "acute-care", "acute-care"),  # drug trial: right
        ("g003", "setting", "primary-care", "community"),  # health services: wrong
        ("g001", "country", "US", "United States"),
        ("g002", "country", "not-applicable", ""),
        ("g003", "country", "GB", ""),  # named, not given
        *[(g, "design", "quantitative", "quantitative") for g in datasets],
    ]
    gold = pd.DataFrame(
        [(g, datasets[g], g, f, lab) for g, f, lab, _ in rows],
        columns=["gold_id", "dataset", "key", "facet", "label"],
    )
    tags = pd.DataFrame(
        [(g, f, p, 0.9, [], "rule", "rules:x") for g, f, _, p in rows if p],
        columns=["record_id", "facet", "label", "score", "evidence", "source", "version"],
    )
    table = TaggedGold(gold, pd.DataFrame({"record_id": sorted(datasets)}), tags).by_source()
    by = table.set_index("source")
    assert list(by.index) == ["Nagtegaal_2019", "cohen2006"]
    assert by.loc["cohen2006", "records"] == 2 and by.loc["Nagtegaal_2019", "records"] == 1
    assert by.loc["cohen2006", "setting_micro"] == 1.0
    assert by.loc["Nagtegaal_2019", "setting_micro"] == 0.0
    assert by.loc["cohen2006", "country_exact"] == "1 of 1"
    assert by.loc["Nagtegaal_2019", "country_exact"] == "0 of 1"
    assert (by["design_micro"] == 1.0).all()


def _half_right(n: int) -> TaggedGold:
    """``n`` records: setting right on the even ones, wrong on the odd; design and country
    right on every one."""
    rows = []
    for k in range(n):
        g = f"g{k:03d}"
        rows += [
            (g, "setting", "acute-care", "acute-care" if k % 2 == 0 else "community"),
            (g, "design", "quantitative", "quantitative"),
            (g, "country", "US", "United States"),
        ]
    return _tagged(rows)


def _copied(tagged: TaggedGold, times: list[int]) -> TaggedGold:
    """The set with its k-th record present ``times[k]`` times, each copy under an id of
    its own: what a weighting of the records stands for."""
    ids = tagged.gold["gold_id"].drop_duplicates().tolist()
    golds, tags = [], []
    for gid, n in zip(ids, times, strict=True):
        for c in range(n):
            golds.append(tagged.gold[tagged.gold["gold_id"] == gid].assign(gold_id=f"{gid}~{c}"))
            tags.append(tagged.tags[tagged.tags["record_id"] == gid].assign(record_id=f"{gid}~{c}"))
    return TaggedGold(pd.concat(golds), tagged.records.iloc[0:0], pd.concat(tags))


def test_a_weighting_of_the_records_scores_as_the_records_copied_would() -> None:
    from synth.tagging.abstract_gold import summary_figures

    rows = [
        ("g0", "setting", "acute-care", "acute-care"),
        ("g1", "setting", "primary-care", "community"),
        ("g2", "setting", "not-applicable", ""),
        ("g3", "setting", "community", ""),
        ("g0", "design", "review", "review"),
        ("g1", "design", "quantitative", "review"),
        ("g2", "design", "qualitative", "qualitative"),
        ("g3", "design", "not-applicable", "quantitative"),
        ("g0", "country", "US", "United States"),
        ("g1", "country", "GB", ""),
        ("g2", "country", "not-applicable", ""),
        ("g3", "country", "not-applicable", "Canada"),
    ]
    tagged = _tagged(rows)
    weightings = [[1, 1, 1, 1], [2, 0, 1, 3], [0, 3, 1, 0], [0, 0, 2, 1]]
    table = tagged.weighted_figures(np.array(weightings))
    for k, times in enumerate(weightings):
        expected = summary_figures(_copied(tagged, times).score())
        got = table.iloc[k].to_dict()
        assert list(got) == list(expected)
        for figure, value in expected.items():
            if np.isnan(value):  # [0, 0, 2, 1]: no record names a country
                assert np.isnan(got[figure]), (times, figure)
            else:
                assert got[figure] == pytest.approx(value), (times, figure)
    with pytest.raises(ValueError, match="3 columns for 4 records"):
        tagged.weighted_figures(np.ones((1, 3)))


def test_the_bootstrap_gives_each_figure_an_interval_around_its_value() -> None:
    from synth.tagging.abstract_gold import summary_figures

    tagged = _half_right(40)
    table = tagged.bootstrap(300, seed=1).set_index("figure")
    point = summary_figures(tagged.score())
    assert list(table.index) == list(point)
    # every record names a country: the figure of those naming none is defined by none
    none = "country none where none named"
    assert np.isnan(point.pop(none)) and table.loc[none, "samples"] == 0
    table = table.drop(index=none)
    for figure, value in point.items():
        assert table.loc[figure, "value"] == value
        assert table.loc[figure, "low"] <= value <= table.loc[figure, "high"]
    # every design and country right on every record: no sample can say otherwise
    for figure in ("design micro-F1", "country exact where named"):
        assert table.loc[figure, ["low", "high"]].tolist() == [1.0, 1.0]
    assert (table["samples"] == 300).all()  # every sample defines every figure here
    # setting right on half the records: samples differ, so the interval is not a point
    assert table.loc["setting micro-F1", "low"] < 0.5 < table.loc["setting micro-F1", "high"]
    again = tagged.bootstrap(300, seed=1)
    assert again.equals(tagged.bootstrap(300, seed=1))  # a seed gives the same intervals
    with pytest.raises(ValueError, match="at least 1"):
        tagged.bootstrap(0)


@pytest.mark.peer
def test_the_command_pools_held_out_sets_and_bootstraps_their_figures() -> None:
    if not PEER.is_dir():
        pytest.skip(f"peer data not found at {PEER}")
    from synth.tagging.abstract_gold import combined, summary_figures, tag_abstract_gold

    sets = [ROOT / "tests" / "fixtures" / f"abstracts-gold-{n}" for n in (2, 4)]
    args = ["tag", "evaluate-abstracts", "--peer", str(PEER)]
    for folder in sets:
        args += ["--gold-dir", str(folder)]
    result = CliRunner().invoke(app, [*args, "--bootstrap", "50", "--seed", "7"])
    assert result.exit_code == 0, result.output
    pooled = combined({f.name: tag_abstract_gold(f, PEER) for f in sets})
    n = pooled.gold["gold_id"].nunique()
    assert n == 277 + 300
    assert f"Pooled: abstracts-gold-2, abstracts-gold-4 ({n} records)" in result.output
    expected = pooled.bootstrap(50, seed=7).set_index("figure")
    for figure in summary_figures(pooled.score()):
        line = next(x for x in result.output.splitlines() if x.strip().startswith(figure))
        value, low, high = (float(x) for x in line.split()[-4:-1])
        assert (value, low, high) == tuple(
            round(float(expected.loc[figure, c]), 3) for c in ("value", "low", "high")
        ), line
    assert "50 bootstrap samples of the records (seed 7)" in result.output
    twice = CliRunner().invoke(app, [*args, "--gold-dir", str(sets[0].resolve())])
    assert twice.exit_code == 2 and "the same gold set given twice" in twice.output
    both = CliRunner().invoke(app, [*args, "--bootstrap", "5", "--by-source"])
    assert both.exit_code == 2 and "one at a time" in both.output
    summary = CliRunner().invoke(app, args)  # pooled: the summary, no per-label detail
    assert summary.exit_code == 0, summary.output
    assert "macro_f1" in summary.output and "Confusion" not in summary.output


def test_gold_sets_of_one_name_in_two_folders_are_pooled_apart(tmp_path: Path) -> None:
    if not PEER.is_dir():
        pytest.skip(f"peer data not found at {PEER}")
    folders = []
    for side in ("x", "y"):
        folder = tmp_path / side / "gold"
        folder.mkdir(parents=True)
        rows = (GOLD / "gold.csv").read_text(encoding="utf-8").splitlines()
        part = rows[1:21] if side == "x" else rows[21:41]
        (folder / "gold.csv").write_text("\n".join([rows[0], *part]) + "\n", encoding="utf-8")
        folders += ["--gold-dir", str(folder)]
    args = ["tag", "evaluate-abstracts", "--peer", str(PEER), *folders]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "(40 records)" in result.output


def _two_arms(rows: list[tuple[str, str, str, str, str]]) -> tuple[TaggedGold, TaggedGold]:
    """(new, baseline) taggings of one gold from (gold_id, facet, gold label, baseline's
    prediction, new prediction; '' for none)."""
    base = _tagged([(g, f, lab, b) for g, f, lab, b, _ in rows])
    new = _tagged([(g, f, lab, n) for g, f, lab, _, n in rows])
    return TaggedGold(base.gold, base.records, new.tags), base


def _mixed_arms(n: int) -> tuple[TaggedGold, TaggedGold]:
    """``n`` records; the new tagging fixes some design errors, breaks one setting and adds
    a wrong country to one record."""
    rows = []
    for k in range(n):
        g = f"g{k:03d}"
        setting = "acute-care" if k % 3 else "community"
        design = ("review", "quantitative", "qualitative")[k % 3]
        rows += [
            (g, "setting", setting, setting if k % 2 else "", setting if k not in (4, 5) else ""),
            (g, "design", design, design if k % 4 else "quantitative",
             design if k % 8 else "quantitative"),
            (g, "country", "US" if k % 5 else "not-applicable", "United States" if k % 5 else "",
             "United States" if k % 5 else ("Canada" if k == 10 else "")),
        ]  # fmt: skip
    return _two_arms(rows)


def test_a_tagging_compared_with_itself_differs_by_nothing() -> None:
    new, _ = _mixed_arms(30)
    table = new.bootstrap_difference(new, 200, seed=3).set_index("figure")
    assert (table["difference"] == 0).all()
    assert (table["low"] == 0).all() and (table["high"] == 0).all()
    assert (table["baseline"] == table["new"]).all()
    assert new.changed_records(new) == {"setting": 0, "country": 0, "design": 0}


def test_the_paired_difference_is_each_sample_scored_twice_on_the_same_records() -> None:
    from synth.tagging.abstract_gold import summary_figures

    new, base = _mixed_arms(24)
    n, seed = 6, 11
    table = new.bootstrap_difference(base, n, seed=seed).set_index("figure")
    point_new, point_base = summary_figures(new.score()), summary_figures(base.score())
    for figure in point_new:
        assert table.loc[figure, "new"] == point_new[figure]
        assert table.loc[figure, "baseline"] == point_base[figure]
        assert table.loc[figure, "difference"] == point_new[figure] - point_base[figure]
    # the samples drawn by hand: each record copied as often as the seed draws it, both
    # arms scored on those copies, the difference taken per sample
    ids = new.gold["gold_id"].drop_duplicates().tolist()
    draws = np.random.default_rng(seed).integers(0, len(ids), size=(n, len(ids)))
    explicit = []
    for row in draws:
        times = np.bincount(row, minlength=len(ids)).tolist()
        a = summary_figures(_copied(new, times).score())
        b = summary_figures(_copied(base, times).score())
        explicit.append({f: a[f] - b[f] for f in a})
    explicit = pd.DataFrame(explicit)
    for figure in point_new:
        low, high = explicit[figure].quantile(0.025), explicit[figure].quantile(0.975)
        assert table.loc[figure, "low"] == pytest.approx(low), figure
        assert table.loc[figure, "high"] == pytest.approx(high), figure
    # setting: the even records but 4 (none in both) and record 5; country: record 10;
    # design: records 12 and 20 (record 4's gold is quantitative, as both arms say)
    assert new.changed_records(base) == {"setting": 12, "country": 1, "design": 2}


def test_a_change_to_few_records_gets_a_paired_interval_narrower_than_either_level() -> None:
    # the new tagging fixes two of 60 records' settings and changes nothing else: every
    # sample's difference is >= 0, while each arm's own level moves by far more
    rows = [(f"g{k:02d}", "setting", "acute-care", "acute-care" if k % 2 else "community",
             "acute-care" if k % 2 or k in (0, 2) else "community") for k in range(60)]  # fmt: skip
    new, base = _two_arms(rows)
    paired = new.bootstrap_difference(base, 500, seed=0).set_index("figure")
    level = base.bootstrap(500, seed=0).set_index("figure")
    micro = "setting micro-F1"
    assert paired.loc[micro, "difference"] == pytest.approx(2 / 60)
    # a sample draws records 0 and 2 about twice in all: its difference is that over 60
    assert 0 <= paired.loc[micro, "low"] < paired.loc[micro, "high"] <= 7 / 60
    width = paired.loc[micro, "high"] - paired.loc[micro, "low"]
    assert width < (level.loc[micro, "high"] - level.loc[micro, "low"]) / 2
    assert new.changed_records(base)["setting"] == 2
    with pytest.raises(ValueError, match="not the same gold records"):
        new.bootstrap_difference(_half_right(60), 10)


def test_the_comparison_refuses_a_baseline_without_a_gold_set_and_a_bad_codebook(
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    base = tmp_path / "base.yml"
    base.write_text("facets: [unclosed\n", encoding="utf-8")
    result = runner.invoke(app, ["tag", "evaluate-abstracts", "--baseline-codebook", str(base)])
    assert result.exit_code == 2 and "--gold-dir" in result.output
    args = ["tag", "evaluate-abstracts", "--gold-dir", str(GOLD), "--peer", str(tmp_path)]
    result = runner.invoke(app, [*args, "--baseline-codebook", str(base)])
    assert result.exit_code == 2 and "base.yml" in result.output, result.output
    assert "Traceback" not in result.output
    missing = tmp_path / "nowhere.yml"
    result = runner.invoke(app, [*args, "--codebook", str(missing)])
    assert result.exit_code == 2 and "nowhere.yml" in result.output, result.output
    result = runner.invoke(app, [*args, "--baseline-codebook", str(missing), "--by-source"])
    assert result.exit_code == 2 and "one at a time" in result.output


def _gold_subset(tmp_path: Path, rows: slice) -> Path:
    folder = tmp_path / "gold"
    folder.mkdir()
    lines = (GOLD / "gold.csv").read_text(encoding="utf-8").splitlines()
    (folder / "gold.csv").write_text("\n".join([lines[0], *lines[rows]]) + "\n", encoding="utf-8")
    return folder


@pytest.mark.peer
def test_the_command_compares_two_codebooks_on_the_same_records(tmp_path: Path) -> None:
    if not PEER.is_dir():
        pytest.skip(f"peer data not found at {PEER}")
    from synth.tagging.abstract_gold import summary_figures, tag_abstract_gold
    from synth.tagging.codebook import default_path, load_codebook

    folder = _gold_subset(tmp_path, slice(1, 61))
    base = tmp_path / "base.yml"
    text = default_path().read_text(encoding="utf-8")
    base.write_text(text, encoding="utf-8")
    cue = "          - questionnaire\n"
    assert text.count(cue) == 1
    cut = tmp_path / "cut.yml"
    cut.write_text(text.replace(cue, ""), encoding="utf-8")
    args = ["tag", "evaluate-abstracts", "--gold-dir", str(folder), "--peer", str(PEER)]

    same = CliRunner().invoke(app, [*args, "--baseline-codebook", str(base), "--bootstrap", "50"])
    assert same.exit_code == 0, same.output
    assert "Records whose labels changed: setting 0, country 0, design 0 (of 60)" in same.output
    for line in same.output.splitlines():
        if "-F1" in line or "where named" in line:
            assert line.split()[-4:-1] == ["0.000", "0.000", "0.000"], line

    arms = ["--codebook", str(cut), "--baseline-codebook", str(base)]
    result = CliRunner().invoke(app, [*args, *arms])
    assert result.exit_code == 0, result.output
    new = summary_figures(tag_abstract_gold(folder, PEER, codebook=load_codebook(cut)).score())
    old = summary_figures(tag_abstract_gold(folder, PEER, codebook=load_codebook(base)).score())
    assert new["design macro-F1"] != old["design macro-F1"]  # the cue mattered here
    for figure in new:
        line = next(x for x in result.output.splitlines() if x.strip().startswith(figure))
        baseline, value, difference = (float(x) for x in line.split()[-3:])
        assert (baseline, value) == (round(old[figure], 3), round(new[figure], 3)), line
        assert difference == round(new[figure] - old[figure], 3), line
    changed = re.search(r"Records whose labels changed: .*design (\d+) \(of 60\)", result.output)
    assert changed and int(changed.group(1)) > 0, result.output
