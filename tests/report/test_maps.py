"""Evidence-map data and figures: counts checked against the tags directly, gaps kept,
corpus strings escaped wherever plotly or the table shows them."""

from __future__ import annotations

import re
from itertools import product

import pandas as pd
import pytest

from synth.report.maps import (
    countries_figure,
    design_by_setting_figure,
    evidence_map_figure,
    evidence_map_with_links,
    paper_table_html,
    publication_figure,
    years_figure,
)
from synth.report.maps_data import UNTAGGED, _codebook_labels, evidence_matrix
from synth.report.palette import load_palette

RAW_MARKUP = re.compile(r"<\s*/?\s*(script|img|svg)\b", re.IGNORECASE)


def direct_counts(records: pd.DataFrame, tags: pd.DataFrame, rows: str, cols: str) -> dict:
    """Count (row label, col label) -> kept papers straight from the fixture, by hand:
    a duplicate's tags count for its group's kept record; a tag under 0.5 does not count."""
    kept = records[records["is_kept"].astype(bool)]
    owner = {r.record_id: r.group_id for r in records.itertuples()}
    labels: dict[tuple[str, str], set[str]] = {}
    for t in tags.itertuples():
        if t.score < 0.5:
            continue
        labels.setdefault((owner[t.record_id], t.facet), set()).add(t.label)
    out: dict[tuple[str, str], int] = {}
    for rid in kept["record_id"]:
        for r in labels.get((rid, rows), {UNTAGGED}):
            for c in labels.get((rid, cols), {UNTAGGED}):
                out[(r, c)] = out.get((r, c), 0) + 1
    return out


def test_matrix_counts_equal_direct_counts(map_records, map_tags):
    m = evidence_matrix(map_records, map_tags)
    expected = direct_counts(map_records, map_tags, "setting", "approach")
    got = {(r, c): n for r, c, n in zip(m["row"], m["col"], m["n"], strict=True) if n}
    assert got == expected
    # r01 (kept) carries its duplicate r09's co-design tag; r09 never appears itself
    cell = m[(m["row"] == "acute-care") & (m["col"] == "co-design")].iloc[0]
    assert "r01" in cell["record_ids"]
    assert not any("r09" in ids for ids in m["record_ids"])
    # r03's co-design tag scores 0.4: a passing mention, not a label the map counts
    co_design = m[m["col"] == "co-design"]
    assert not any("r03" in ids for ids in co_design["record_ids"])


def test_matrix_keeps_every_empty_cell_in_codebook_order(map_records, map_tags):
    m = evidence_matrix(map_records, map_tags)
    settings = _codebook_labels()["setting"]
    approaches = _codebook_labels()["approach"]
    rows = list(dict.fromkeys(m["row"]))
    cols = list(dict.fromkeys(m["col"]))
    # r07 has no approach, r08 no setting: both axes get a "not tagged" line
    assert rows == [*settings, UNTAGGED]
    assert cols == [*approaches, UNTAGGED]
    assert len(m) == len(rows) * len(cols)
    assert set(zip(m["row"], m["col"], strict=True)) == set(product(rows, cols))
    assert (m["n"] == 0).sum() > 0
    assert m.loc[(m["row"] == "not-applicable") & (m["col"] == "always-events"), "n"].item() == 0
    # ids and citations line up and n counts them
    assert (m["n"] == m["record_ids"].map(len)).all()
    assert (m["n"] == m["citations"].map(len)).all()


def test_matrix_other_facets_and_no_untagged(map_records, map_tags):
    m = evidence_matrix(map_records, map_tags, rows="design", cols="setting", untagged=False)
    assert UNTAGGED not in set(m["row"]) | set(m["col"])
    expected = direct_counts(map_records, map_tags, "design", "setting")
    got = {(r, c): n for r, c, n in zip(m["row"], m["col"], m["n"], strict=True) if n}
    assert got == {k: v for k, v in expected.items() if UNTAGGED not in k}


def test_map_links_name_each_bubbles_papers_and_the_figure_carries_no_ids(map_records, map_tags):
    """A filter trace's bubble holds its cell's papers that the filter keeps: the page
    intersects ``cells`` with ``members`` instead of carrying ids per trace."""
    fig, links = evidence_map_with_links(map_records, map_tags)
    assert all(t.customdata is None for t in fig.data)
    assert fig.to_json() == evidence_map_figure(map_records, map_tags).to_json()
    m = evidence_matrix(map_records, map_tags)
    nonzero = m[m["n"] > 0]
    bubbles = fig.data[1]
    assert [links.cells[(x, y)] for x, y in zip(bubbles.x, bubbles.y, strict=True)] == list(
        nonzero["record_ids"]
    )
    assert sorted(links.members) == list(range(2, len(fig.data)))
    for t, members in links.members.items():
        trace, keep = fig.data[t], set(members)
        for x, y, n in zip(trace.x, trace.y, trace.marker.size, strict=True):
            assert len([r for r in links.cells[(x, y)] if r in keep]) == n
        # and every cell the filter leaves papers in has a bubble
        drawn = set(zip(trace.x, trace.y, strict=True))
        assert drawn == {k for k, ids in links.cells.items() if keep & set(ids)}


def test_map_figure_bubbles_match_matrix(map_records, map_tags):
    fig = evidence_map_figure(map_records, map_tags)
    m = evidence_matrix(map_records, map_tags)
    grid, bubbles = fig.data[0], fig.data[1]
    assert len(grid.x) == len(m)  # a dot for every cell, empty ones too
    nonzero = m[m["n"] > 0]
    assert list(bubbles.marker.size) == list(nonzero["n"])
    rows = list(dict.fromkeys(m["row"]))
    cols = list(dict.fromkeys(m["col"]))
    assert [rows[y] for y in bubbles.y] == list(nonzero["row"])
    assert [cols[x] for x in bubbles.x] == list(nonzero["col"])
    pal = load_palette()
    assert fig.layout.yaxis.ticktext[rows.index("acute-care")] == pal.label_name(
        "setting", "acute-care"
    )


def test_map_hover_text_is_escaped(map_records, map_tags):
    fig = evidence_map_figure(map_records, map_tags)
    hover = [h for tr in fig.data[1:] for h in (tr.hovertext or ())]
    assert hover
    for h in hover:
        assert not RAW_MARKUP.search(h), h
    joined = "\n".join(hover)
    # the hostile titles have no authors in a citation, but the venue/title fallback and
    # apostrophes come through escaped
    assert "O&#39;Brien 2021" in joined
    assert "Iedema and Merrick 2010" in joined
    assert "&lt;img src=x onerror=__pwned=6&gt; 2020" in joined  # title as citation


def test_map_hover_escapes_citation_fallbacks():
    records = pd.DataFrame(
        [{"record_id": "x1", "title": "<script>alert(1)</script>", "authors": [], "year": 2020}]
    )
    tags = pd.DataFrame(
        [("x1", "setting", "acute-care", 0.9, []), ("x1", "approach", "ppi", 0.9, [])],
        columns=["record_id", "facet", "label", "score", "evidence"],
    )
    fig = evidence_map_figure(records, tags)
    hover = fig.data[1].hovertext[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 2020" in hover
    assert "<script" not in hover


def test_map_filters_toggle_precomputed_traces(map_records, map_tags):
    fig = evidence_map_figure(map_records, map_tags)
    menus = fig.layout.updatemenus
    assert [m.buttons[0].label for m in menus] == [
        "Publication: all",
        "Study design: all",
        "Years: all",
    ]
    n_traces = len(fig.data)
    for k, menu in enumerate(menus):
        assert menu.active == 0
        for b in menu.buttons:
            visible, layout_update = b.args
            assert len(visible["visible"]) == n_traces
            assert visible["visible"][0] is True  # the grid stays
            assert sum(visible["visible"]) == 2  # the grid and exactly one bubble trace
            # choosing in one menu resets the others, so no menu claims a stale filter
            assert layout_update == {
                f"updatemenus[{j}].active": 0 for j in range(len(menus)) if j != k
            }
    # "Grey literature" shows only grey papers: r04, r06, r07
    grey = next(b for b in menus[0].buttons if b.label.startswith("Grey literature"))
    assert grey.label == "Grey literature (3)"
    shown = grey.args[0]["visible"].index(True, 1)
    _, links = evidence_map_with_links(map_records, map_tags)
    assert set(links.members[shown]) == {"r04", "r06", "r07"}
    assert sum(fig.data[shown].marker.size) >= 3
    # year bands from palette.yml: r08 has no year and is in no band
    years = [b.label for b in menus[2].buttons[1:]]
    assert years == ["up to 2010 (1)", "2011–2015 (2)", "2016–2020 (4)", "2021 on (2)"]


def test_map_without_filters(map_records, map_tags):
    fig = evidence_map_figure(map_records, map_tags, filters=False)
    assert len(fig.data) == 2
    assert not fig.layout.updatemenus


def test_design_by_setting_heatmap(map_records, map_tags):
    fig = design_by_setting_figure(map_records, map_tags)
    hm = fig.data[0]
    expected = direct_counts(map_records, map_tags, "design", "setting")
    total = sum(v for row in hm.z for v in row if v)
    assert total == sum(expected.values())
    for row in hm.hovertext:
        for h in row:
            assert not RAW_MARKUP.search(h)
    assert all(v is None or v > 0 for row in hm.z for v in row)  # empty cells blank


def test_countries_publication_years(map_records, map_tags):
    pal = load_palette()
    fig = countries_figure(map_records, map_tags)
    counts = {t.y[0]: t.x[0] for t in fig.data}  # one bar per trace
    # r02, r04, r06 are UK; r05, r07, r08, r11 have no country; r01 counts once with r09
    assert counts == {"UK": 3, "USA": 1, "Canada": 1, "Australia": 1, "Not tagged": 4}
    assert list(counts.values()) == sorted(counts.values())  # largest bar on top
    assert list(fig.layout.yaxis.categoryarray) == list(counts)
    pub = publication_figure(map_records, map_tags)
    pub_counts = {t.x[0]: t.y[0] for t in pub.data}
    assert pub_counts == {
        pal.label_name("publication", "journal"): 5,
        pal.label_name("publication", "grey"): 3,
        "Not tagged": 2,
    }
    years = years_figure(map_records, map_tags)
    assert sum(sum(tr.y) for tr in years.data) == 9  # ten kept papers, one without a year
    assert "1 without a year" in years.layout.title.text
    for tr in [*years.data, *pub.data, *fig.data]:
        for h in tr.hovertext:
            assert not RAW_MARKUP.search(h)


def test_paper_table_escapes_and_links(map_records, map_tags):
    html = paper_table_html(map_records, map_tags)
    assert not RAW_MARKUP.search(html)
    assert "javascript:" not in html.lower()
    assert "&lt;script&gt;window.__pwned = 1; alert(1)&lt;/script&gt;" in html
    assert "Journal of &lt;b&gt;Bold&lt;/b&gt; Claims" in html
    ids = re.findall(r'<tr id="paper-([^"]+)" data-record="\1">', html)
    assert sorted(ids) == ["r01", "r02", "r03", "r04", "r05", "r06", "r07", "r08", "r10", "r11"]
    assert '<a href="https://doi.org/10.1136/qshc.2009.036665"' in html
    assert '<a href="https://example.org/paper"' in html
    assert html.count("<a href=") == 2  # javascript: URLs are not links
    # the evidence column quotes the strongest sentence, escaped; title hits say so
    assert "“Mental health services were co-produced.”" in html
    assert "&lt;img src=x onerror=" in html
    assert '<b>EBCD (experience-based co-design)</b> <span class="field">(title)</span>' in html


def test_a_publication_type_looks_the_same_in_every_figure(map_records, map_tags):
    """Grey literature was white bars in the years chart (plotly draws a pattern *instead*
    of the colour unless told to overlay it) and orange hatching in the publication chart.
    Both now take the palette's one fill: its colour, its pattern drawn over it."""
    pal = load_palette()
    grey = pal.label_name("publication", "grey")
    years = {t.name: t.marker.to_plotly_json() for t in years_figure(map_records, map_tags).data}
    pub_fig = publication_figure(map_records, map_tags)
    pub = {t.name: t.marker.to_plotly_json() for t in pub_fig.data}
    assert years[grey] == pub[grey]
    assert years[grey]["color"] == "#E69F00"
    assert years[grey]["pattern"]["shape"] == "/"
    assert years[grey]["pattern"]["fillmode"] == "overlay"  # the colour stays under the hatch
    journal = pal.label_name("publication", "journal")
    assert years[journal] == pub[journal] and years[journal]["pattern"]["shape"] == ""
    assert years["Not tagged"] == pub["Not tagged"]
    assert years["Not tagged"]["color"] == pal.neutral["empty"]


def test_year_labels_thin_out_with_many_years():
    from synth.report.maps import MAX_YEAR_TICKS, year_step

    assert [year_step(n) for n in (1, 20, 21, 35, 41, 100, 101, 250)] == [1, 1, 2, 2, 5, 5, 10, 20]
    for n in range(1, 600):
        assert n / year_step(n) <= MAX_YEAR_TICKS


@pytest.mark.parametrize("fn", [evidence_map_figure, design_by_setting_figure, countries_figure,
                                years_figure, publication_figure])  # fmt: skip
def test_figures_survive_an_empty_corpus(fn):
    records = pd.DataFrame({"record_id": pd.Series([], dtype=object), "year": []})
    tags = pd.DataFrame(columns=["record_id", "facet", "label", "score", "evidence"])
    fig = fn(records, tags)
    assert fig.to_json()


def _luminance(hex_colour: str) -> float:
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def test_palette_prints_in_grey():
    pal = load_palette()
    seq = [_luminance(c) for _, c in pal.sequential]
    assert seq == sorted(seq, reverse=True)  # more papers = darker, also in greyscale
    assert len(set(pal.categorical)) == len(pal.categorical)
    assert len(set(pal.patterns)) == len(pal.patterns)  # patterns tell series apart in grey
    assert pal.label_name("setting", "acute-care") == "Acute care"
    assert pal.label_name("country", "United Kingdom") == "UK"
    assert pal.year_band(2010) == "up to 2010" and pal.year_band(None) is None


@pytest.mark.slow
def test_kei_matrix_counts(kei_store):
    records, tags = kei_store
    m = evidence_matrix(records, tags)
    expected = direct_counts(
        records.assign(group_id=records["group_id"].fillna(records["record_id"]),
                       is_kept=records["is_kept"].fillna(True)),
        tags[tags["record_id"].isin(records["record_id"])], "setting", "approach",
    )  # fmt: skip
    got = {(r, c): n for r, c, n in zip(m["row"], m["col"], m["n"], strict=True) if n}
    assert got == expected
    assert (m["n"] == 0).any()


# --------------------------------------------------------------------------- scope


def test_out_of_scope_labels_are_marked_with_their_criterion(map_records, map_tags, scope_review):
    """The review's own exclusions are out of scope on the map, named with the criterion,
    never empty gaps; without a review nothing is."""
    from .conftest import SCOPE_CRITERION

    m = evidence_matrix(map_records, map_tags, review=scope_review)
    ruled_out = m["col"].isin(["self-management", "shared-decision-making"])
    assert set(m.loc[ruled_out, "out_of_scope"]) == {SCOPE_CRITERION}
    assert set(m.loc[~ruled_out, "out_of_scope"]) == {""}
    assert set(evidence_matrix(map_records, map_tags)["out_of_scope"]) == {""}
    # r10's shared decision-making is still counted, in its marked cell
    sdm = m[(m["col"] == "shared-decision-making") & (m["n"] > 0)]
    assert list(sdm["record_ids"]) == [["r10"]]

    fig = evidence_map_figure(map_records, map_tags, review=scope_review)
    cols = list(dict.fromkeys(m["col"]))
    ticks = list(fig.layout.xaxis.ticktext)
    for label in ("self-management", "shared-decision-making"):
        i = cols.index(label)
        assert ticks[i].endswith("(out of scope)")
        band = [s for s in fig.layout.shapes if s.x0 == i - 0.5 and s.x1 == i + 0.5]
        assert len(band) == 1 and band[0].yref == "paper"
        note = [a for a in fig.layout.annotations if a.x == i and a.xref == "x"]
        assert len(note) == 1 and SCOPE_CRITERION in note[0].text
        said = note[0].hovertext.replace("<br>", " ")
        assert SCOPE_CRITERION in said and "own benefit" in said
    assert sum(t.endswith("(out of scope)") for t in ticks) == 2
    # an out-of-scope cell is marked ×, not drawn as a gap (a grey dot)
    grid = fig.data[0]
    marks = {cols[x]: sym for x, sym in zip(grid.x, grid.marker.symbol, strict=True)}
    assert marks["self-management"] != "circle" and marks["co-design"] == "circle"
    # the bubble in the marked column says why it is out of scope
    bubbles = fig.data[1]
    hover = bubbles.hovertext[[cols[x] for x in bubbles.x].index("shared-decision-making")]
    assert "Out of scope" in hover and SCOPE_CRITERION in hover
    # no review: no band, no mark
    plain = evidence_map_figure(map_records, map_tags)
    assert not plain.layout.shapes and not plain.layout.annotations
    assert not any("(out of scope)" in t for t in plain.layout.xaxis.ticktext)


def test_scope_text_from_review_yml_is_escaped(map_records, map_tags, scope_review):
    """The criterion's text is data: it reaches hover labels and annotations escaped."""
    fig = evidence_map_figure(map_records, map_tags, review=scope_review)
    texts = list(fig.data[1].hovertext)
    texts += [a.hovertext for a in fig.layout.annotations]
    assert any("&lt;b&gt;only&lt;/b&gt;" in t for t in texts)
    for t in texts:
        assert not RAW_MARKUP.search(t) and "<b>only" not in t, t


def test_hidden_labels_are_not_drawn_and_their_papers_are_counted(
    map_records, map_tags, scope_review
):
    """Labels outside the review's frame are not drawn; a paper with only those is not
    lost quietly: it is counted, and the page says so."""
    from synth.report.maps import map_key
    from synth.report.maps_data import axis_counts, prepare, scope_figures

    m = evidence_matrix(map_records, map_tags, review=scope_review)
    assert not {"community", "social-care"} & set(m["row"])
    placed = {r for ids in m["record_ids"] for r in ids}
    assert "r04" not in placed and "r11" not in placed  # only community / social care
    corpus = prepare(map_records, map_tags)
    counts = axis_counts(corpus, "setting", scope_review)
    assert counts["hidden_only"] == 2
    assert counts["tagged"] + counts["not_tagged"] + counts["hidden_only"] == counts["papers"]
    figures = scope_figures(corpus, scope_review)
    assert figures["map.hidden_only.setting"] == 2 and figures["map.hidden_only"] == 2
    assert len(placed) + figures["map.hidden_only"] == len(corpus.records)
    assert figures["map.out_of_scope.approach:shared-decision-making"] == 1
    assert figures["map.out_of_scope.approach:self-management"] == 0
    key = " ".join(map_key(map_records, map_tags, scope_review))
    assert "Not drawn (setting): Community, Social care" in key
    assert "not on the map: 2" in key
    assert "Out of scope (approach): Self-management, Shared decision-making" in key
    # without a review every label is drawn and every paper placed
    plain = evidence_matrix(map_records, map_tags)
    assert {"community", "social-care"} <= set(plain["row"])
    assert len({r for ids in plain["record_ids"] for r in ids}) == len(corpus.records)


def test_not_tagged_row_and_column_count_every_untagged_paper(map_records, map_tags, scope_review):
    """The "not tagged" row/column holds exactly the papers with no label on that axis;
    tagged + not tagged (+ hidden only) = the papers shown."""
    from synth.report.maps import map_key
    from synth.report.maps_data import axis_counts, prepare, scope_figures

    corpus = prepare(map_records, map_tags)
    for review in (None, scope_review):
        m = evidence_matrix(map_records, map_tags, review=review)
        for axis, facet in (("row", "setting"), ("col", "approach")):
            untagged = {r for ids in m.loc[m[axis] == UNTAGGED, "record_ids"] for r in ids}
            counts = axis_counts(corpus, facet, review)
            assert counts["not_tagged"] == len(untagged) > 0
            tagged = {r for ids in m.loc[m[axis] != UNTAGGED, "record_ids"] for r in ids}
            shown = {r for ids in m["record_ids"] for r in ids}
            # on the map, the labelled rows (columns) and "not tagged" hold the papers shown
            assert tagged | untagged == shown and not tagged & untagged
            hidden_elsewhere = len(corpus.records) - len(shown) - counts["hidden_only"]
            assert counts["tagged"] == len(tagged) + hidden_elsewhere
            assert counts["tagged"] + counts["not_tagged"] + counts["hidden_only"] == len(
                corpus.records
            )
            assert scope_figures(corpus, review)[f"map.not_tagged.{facet}"] == len(untagged)
    key = map_key(map_records, map_tags)
    assert "Not tagged (setting): 1 paper of 10 have no setting label" in " ".join(key)
