"""The extraction-and-appraisal report page (notebooks/06): its appraisal figures
(colour-blind and greyscale safe, corpus text escaped), the page executed by papermill on
the bundled corpus with a few extraction and appraisal events recorded first, the page
with nothing extracted yet, a hostile title, and the page's size at 500 papers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from synth.report.display import PLOTLY_MIME
from tests.report.conftest import HOSTILE, figure_page

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus" / "kei-2020"
PAGE = "06_extraction_and_appraisal"
RAW = (HOSTILE["script"], HOSTILE["img"], HOSTILE["close"], "<svg onload")


def _tool(name: str):
    from synth.extraction.forms import appraisal_tools

    return appraisal_tools()[name]


def _answers(form, record_id: str, pattern: list[str]) -> list[tuple[str, str, str, str]]:
    """(record_id, form_id, field_id, answer) for every item of ``form``, cycling ``pattern``."""
    items = list(form.fields)
    return [(record_id, form.id, f, pattern[k % len(pattern)]) for k, f in enumerate(items)]


# ----------------------------------------------------------------------------- figures


def test_traffic_light_and_bars_read_without_colour_and_escape_titles(tmp_path: Path) -> None:
    from synth.report.appraisal_figures import domain_bars, item_traffic_light, traffic_light
    from synth.report.maps import esc
    from synth.report.palette import load_palette

    form = _tool("appraisal-casp-qualitative")
    rows = _answers(form, "a", ["yes", "no", "can't tell"]) + _answers(form, "b", ["yes"])
    values = pd.DataFrame(rows, columns=["record_id", "form_id", "field_id", "value"])
    cites = {"a": HOSTILE["script"], "b": HOSTILE["img"]}
    items = item_traffic_light(values, form, cites)
    light = traffic_light(values, form, cites)
    bars = domain_bars(values, form)
    styles = load_palette().judgements
    # each answer has its own symbol, marker and pattern besides its colour
    for key in ("symbol", "marker", "colour", "pattern"):
        assert len({styles[c][key] for c in ("yes", "unclear", "no")}) == 3, key
    heat = items.data[0]
    hostile = "&lt;script&gt;window.__pwned = 1; alert(1)&lt;/script&gt;"
    first = list(heat.text[list(heat.y).index(hostile)])
    assert first[:3] == [
        styles["yes"]["symbol"],
        styles["no"]["symbol"],
        styles["unclear"]["symbol"],
    ]
    # paper b answered yes throughout: low concern in every domain, drawn with "+"
    domains = light.data[0]
    assert set(domains.text[list(domains.y).index(esc(HOSTILE["img"]))]) == {
        styles["yes"]["symbol"]  # low concern is drawn as a "yes" is
    }
    assert {t.marker.pattern.shape for t in bars.data} <= {"", "/", "."}
    page = figure_page([light, bars, items], tmp_path).read_text("utf-8")
    for raw in RAW:
        assert raw not in page
    assert "&amp;lt;script&amp;gt;" in page or "\\u0026lt;script\\u0026gt;" in page


HOSTILE_TOOL = """
id: hostile-tool
kind: appraisal
title: A tool <b>bold</b>
citation: Someone (2020). A tool.
scale: ["yes", "no", "can't tell"]
sections:
  - section: Aims
    fields:
      - {id: aims-clear, label: "Aims clear?", type: choice}
      - {id: aims-fit, label: "Design fits?", type: choice}
  - section: "Data <script>x()</script>"
    fields:
      - {id: data-enough, label: "Enough data?", type: choice}
      - {id: data-rich, label: "Rich data?", type: choice}
  - section: Use
    optional: true
    fields:
      - {id: use-local, label: "Useful here?", type: choice}
"""


def _judged_values(form) -> pd.DataFrame:
    """a: yes throughout; b: a 'no' in Aims, 'can't tell' in Data; c: only Data,
    'can't tell' and 'not applicable'; nobody answered the optional Use domain."""
    answers = {
        "a": {"aims-clear": "yes", "aims-fit": "yes", "data-enough": "yes", "data-rich": "yes"},
        "b": {"aims-clear": "yes", "aims-fit": "No", "data-enough": ["can't tell"],
              "data-rich": "yes"},
        "c": {"data-enough": "can't tell", "data-rich": "not applicable"},
    }  # fmt: skip
    rows = [(r, form.id, f, v) for r, mine in answers.items() for f, v in mine.items()]
    return pd.DataFrame(rows, columns=["record_id", "form_id", "field_id", "value"])


def test_the_traffic_light_judges_each_paper_per_domain_and_overall(tmp_path: Path) -> None:
    """A column per domain some paper was judged on and the overall column; each domain's
    level from its items by appraisal.yml's rule (high if any no, some if any can't tell,
    low if all yes, not assessed if none answered), overall the worst domain; the hover
    counts the domain's answers; the bar per domain gives the share of papers per level."""
    from synth.extraction.appraisal import domain_judgements, load_judgement_rules
    from synth.extraction.forms import parse_form
    from synth.report.appraisal_figures import domain_bars, domain_counts, traffic_light
    from synth.report.maps import esc
    from synth.report.palette import load_palette

    form = parse_form(HOSTILE_TOOL)
    values = _judged_values(form)
    judged = domain_judgements(values, form).set_index(["record_id", "domain"])["level"]
    data = "Data <script>x()</script>"
    assert judged[("a", "Aims")] == judged[("a", data)] == judged[("a", "overall")] == "low"
    assert (judged[("b", "Aims")], judged[("b", data)], judged[("b", "overall")]) == (
        "high", "some", "high",
    )  # fmt: skip
    assert (judged[("c", "Aims")], judged[("c", data)], judged[("c", "overall")]) == (
        "not-assessed", "some", "some",
    )  # fmt: skip
    assert judged[("a", "Use")] == "not-assessed"

    cites = {"a": "Ash 2019", "b": HOSTILE["img"], "c": "Cole 2021"}
    light = traffic_light(values, form, cites)
    heat = light.data[0]
    escaped_data = "Data &lt;script&gt;x()&lt;/script&gt;"
    assert list(heat.x) == ["Aims", escaped_data, "Overall"]  # Use: nobody judged it
    styles = load_palette().judgements
    rules = load_judgement_rules()
    symbol = {lv: styles[spec["style"]]["symbol"] for lv, spec in rules.levels.items()}
    y = list(heat.y)
    b = y.index(esc(HOSTILE["img"]))
    assert list(heat.text[b]) == [symbol["high"], symbol["some"], symbol["high"]]
    assert list(heat.text[y.index("Cole 2021")]) == ["", symbol["some"], symbol["some"]]
    assert list(heat.text[y.index("Ash 2019")]) == [symbol["low"]] * 3
    assert len({symbol[lv] for lv in ("low", "some", "high")}) == 3
    assert heat.customdata[b][0] == "High concern (1 yes, 1 no)"
    assert heat.customdata[b][1] == "Some concerns (1 yes, 1 unclear)"
    assert {t.name for t in light.data[1:]} >= {"+ Low concern", "? Some concerns"}

    counts = domain_counts(values, form)
    assert counts.index.tolist() == ["Aims", data, "overall"]
    assert counts.loc["Aims"].tolist() == [1, 0, 1, 1]  # low, some, high, not assessed
    assert counts.loc["overall"].tolist() == [1, 1, 1, 0]
    bars = domain_bars(values, form)
    high = next(t for t in bars.data if "High concern" in t.name)
    assert list(high.customdata) == [1, 0, 1] and round(high.x[0]) == 33
    assert {t.marker.pattern.shape for t in bars.data} == {"", "/", "."}

    page = figure_page([light, bars], tmp_path).read_text("utf-8")
    for raw in (*RAW, "<script>x()"):
        assert raw not in page


def test_the_domain_rule_is_data(tmp_path: Path) -> None:
    """A team's own rules file changes the judgement (here: any 'can't tell' is already a
    high concern); a malformed one is refused naming the file, the rule and the problem."""
    from synth.extraction.appraisal import (
        AppraisalRulesError,
        default_path,
        domain_judgements,
        load_judgement_rules,
    )
    from synth.extraction.forms import parse_form

    form = parse_form(HOSTILE_TOOL)
    text = default_path().read_text("utf-8")
    strict = tmp_path / "strict.yml"
    strict.write_text(text.replace("{level: high, any: [concern]}",
                                   "{level: high, any: [concern, unclear]}"), "utf-8")  # fmt: skip
    judged = domain_judgements(_judged_values(form), form, load_judgement_rules(strict))
    assert judged.set_index(["record_id", "domain"])["level"][("c", "overall")] == "high"
    bad = tmp_path / "bad.yml"
    bad.write_text(text.replace("{level: some, any: [unclear]}",
                                "{level: medium, any: [unclear]}"), "utf-8")  # fmt: skip
    with pytest.raises(AppraisalRulesError, match=r"bad\.yml: domain\[1\].*'medium'"):
        load_judgement_rules(bad)
    last = tmp_path / "last.yml"
    last.write_text(text.replace("  - {level: low}\n", "", 1), "utf-8")
    with pytest.raises(AppraisalRulesError, match=r"last\.yml: domain\[1\].*no `any`"):
        load_judgement_rules(last)


def test_the_categories_follow_the_tools_scales() -> None:
    from synth.extraction.forms import appraisal_tools
    from synth.report.appraisal_figures import answer_category

    seen = {c for t in appraisal_tools().values() for f in t.fields.values() for c in f.choices}
    assert seen, "the appraisal tools have judgement scales"
    got = {c: answer_category(c) for c in seen}
    assert "not-answered" not in {got[c] for c in ("yes", "no")}
    assert {answer_category(None), answer_category("  ")} == {"not-answered"}
    assert answer_category("Can't tell") == "unclear" and answer_category("No") == "no"


# ------------------------------------------------------------------------ the page


def _record(db: Path, rows: list[tuple[str, str, str, object]], reviewer: str = "ana") -> None:
    from synth.store import connect
    from synth.store.extraction import record_value

    con = connect(db)
    try:
        for rid, form_id, field_id, value in rows:
            record_value(con, rid, form_id, field_id, value, reviewer)
    finally:
        con.close()


def _run_page(db: Path, out: Path, corpus: Path = CORPUS) -> tuple[dict, str]:
    """Execute the page with papermill and render it as ``synth review run`` does:
    (summary, page HTML)."""
    from synth.report.notebooks import execute, find_notebooks, render_body
    from synth.report.pages import new_nonce, page_html

    spec = find_notebooks(names=[PAGE])[0]
    result = execute(spec, out, {"db": str(db), "corpus": str(corpus)})
    assert result.error is None, result.error
    nonce = new_nonce()
    page = page_html(render_body(result.nb, nonce), title=spec.title, review_title="t",
                     nonce=nonce)  # fmt: skip
    return result.summary, page


def _kei_papers(db: Path) -> list[str]:
    from synth.extraction.values import included_record_ids
    from synth.store import connect

    con = connect(db)
    try:
        return included_record_ids(con)
    finally:
        con.close()


def _citation(db: Path, rid: str) -> str:
    from synth.corpus.citation import citations
    from synth.store import connect, load_records

    con = connect(db)
    try:
        return citations(load_records(con)).to_dict()[rid]
    finally:
        con.close()


@pytest.mark.notebook
@pytest.mark.slow
def test_the_page_shows_what_was_extracted_and_appraised(
    kei_tagged_db: Path, copy_db, tmp_path: Path
) -> None:
    db = copy_db(kei_tagged_db)
    papers = _kei_papers(db)
    a, b, c = papers[:3]
    _record(db, [(a, "coproduction-extraction", "aims", "Redesign a ward <b>together</b>"),
                 (a, "coproduction-extraction", "setting", "mental health"),
                 (b, "coproduction-extraction", "aims", "Improve discharge")])  # fmt: skip
    mmat, casp = _tool("appraisal-mmat"), _tool("appraisal-casp-qualitative")
    _record(db, _answers(casp, a, ["yes", "no"]) + _answers(mmat, c, ["can't tell"]))
    summary, page = _run_page(db, tmp_path / "out")
    assert summary["papers"] == len(papers)
    assert summary["extracted"] == 2 and summary["appraised"] == 2
    # one row per included paper, the two extracted first
    assert summary["characteristics_rows"] == len(papers)
    table = page[page.index('<table class="synth-table">') :]
    table = table[: table.index("</table>")]
    assert table.index("Improve discharge") < table.index(_citation(db, c).replace("&", "&amp;"))
    assert summary["tools"] == ["appraisal-casp-qualitative", "appraisal-mmat"]
    assert summary["appraisal_values"] == len(casp.fields) + len(mmat.fields)
    assert summary["progress"]["not started"] == len(papers) - 3
    # the characteristics table: the value as text, the paper by its citation
    assert "Redesign a ward &lt;b&gt;together&lt;/b&gt;" in page
    assert "Improve discharge" in page and "mental health" in page
    cite = _citation(db, a)
    assert re.search(r"<td>(<a [^>]*>)?" + re.escape(cite.replace("&", "&amp;")), page)
    # per tool: the traffic light per domain, the bar per domain, the item plot
    assert len(re.findall(r'class="plotly-graph-div"', page)) == 6
    assert "judgement per domain" in page and "each item" in page
    assert "No paper has been extracted" not in page
    assert "Papers begun" in page


@pytest.mark.notebook
@pytest.mark.slow
def test_the_page_says_so_when_nothing_is_extracted(kei_tagged_db: Path, tmp_path: Path) -> None:
    summary, page = _run_page(kei_tagged_db, tmp_path / "out")
    assert summary["extracted"] == summary["appraised"] == 0 and summary["papers"] > 0
    assert "No paper has been extracted or appraised yet" in page
    assert "synth extract open" in page
    assert 'class="plotly-graph-div"' not in page


@pytest.mark.notebook
@pytest.mark.slow
def test_a_hostile_title_stays_text(tmp_path: Path) -> None:
    from synth.store import connect, import_paths

    corpus = tmp_path / "hostile"
    corpus.mkdir()
    title = HOSTILE["close"] + " " + HOSTILE["img"]
    (corpus / "refs.bib").write_text(
        "@article{evil2020,\n  title = {" + title + "},\n  author = {Mallory, Eve},\n"
        "  journal = {J},\n  year = {2020},\n  url = {javascript:alert(1)},\n}\n",
        "utf-8",
    )
    db = tmp_path / "hostile.sqlite"
    con = connect(db)
    try:
        import_paths(con, [corpus])
        rid = con.execute("SELECT record_id FROM records").fetchone()[0]
    finally:
        con.close()
    casp = _tool("appraisal-casp-qualitative")
    aims = (rid, "coproduction-extraction", "aims", HOSTILE["script"])
    _record(db, [aims, *_answers(casp, rid, ["no"])])
    summary, page = _run_page(db, tmp_path / "out", corpus)
    assert summary["appraised"] == 1 and summary["extracted"] == 1
    for raw in RAW:
        assert raw not in page
    assert "javascript:" not in page.lower().replace("javascript:window", "")


@pytest.mark.notebook
@pytest.mark.slow
def test_the_page_stays_under_a_megabyte_at_500_papers(tmp_path: Path) -> None:
    """500 synthetic papers, every one extracted (key fields) and appraised by two
    reviewers (one tool each, some in conflict): the rendered page is under 1 MB."""
    from synth.corpus.synthetic import generate_records
    from synth.corpus.writers.ris import write_ris
    from synth.extraction.forms import default_form
    from synth.store import connect, import_paths, load_records

    records, _ = generate_records(500, seed=3, dup_rate=0.0)
    corpus = tmp_path / "synthetic"
    corpus.mkdir()
    write_ris(records.reset_index(drop=True), corpus / "refs.ris")
    db = tmp_path / "big.sqlite"
    con = connect(db)
    try:
        import_paths(con, [corpus])
        loaded = load_records(con, with_groups=True)
        kept = loaded[loaded["is_kept"].astype("boolean").fillna(True).astype(bool)]
        ids = kept["record_id"].astype(str).tolist()
        assert len(ids) >= 490
        tools = [_tool(t) for t in ("appraisal-mmat", "appraisal-casp-qualitative",
                                    "appraisal-aacods")]  # fmt: skip
        form = default_form()
        rows = []
        for k, rid in enumerate(ids):
            for f in form.key_fields:
                value = f.choices[k % len(f.choices)] if f.type == "choice" else (
                    [f.choices[k % len(f.choices)]] if f.type == "choices" else
                    f"value {k} of {f.id}, a sentence as a reviewer writes it"
                )  # fmt: skip
                rows.append((rid, form.id, f.id, json.dumps(value), "ana"))
            tool = tools[k % 3]
            for j, item in enumerate(tool.fields):
                answer = ("yes", "no", "can't tell")[(k + j) % 3]
                rows.append((rid, tool.id, item, json.dumps(answer), "ana"))
                other = answer if (k + j) % 7 else "yes"
                rows.append((rid, tool.id, item, json.dumps(other), "ben"))
        # test data in one transaction (record_value commits each value: 40,000 fsyncs)
        with con:
            con.executemany(
                "INSERT INTO extraction_events (record_id, form_id, field_id, value, reviewer,"
                " created_at) VALUES (?, ?, ?, ?, ?, '2026-01-01T00:00:00')",
                rows,
            )
    finally:
        con.close()
    summary, page = _run_page(db, tmp_path / "out", corpus)
    assert summary["papers"] == len(ids) and summary["extracted"] == len(ids)
    assert summary["appraised"] == len(ids)
    size = len(page.encode("utf-8"))
    print(f"page size at {len(ids)} papers: {size:,} bytes")
    assert size < 1_000_000, f"the page is {size:,} bytes at {len(ids)} papers"
    assert "first 200 of" in page  # the tables say they are cut, and where the rest is


def test_page_is_registered_and_thin() -> None:
    from synth.report.notebooks import NOTEBOOKS_DIR, find_notebooks

    assert PAGE in [s.name for s in find_notebooks()]
    nb = nbformat.read(NOTEBOOKS_DIR / f"{PAGE}.ipynb", as_version=4)
    assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code")
    assert PLOTLY_MIME not in json.dumps(nb)


# ------------------------------------------------------- the synthesis page's findings


@pytest.mark.notebook
@pytest.mark.slow
def test_the_synthesis_page_shows_the_summary_of_findings(
    kei_tagged_db: Path, copy_db, tmp_path: Path
) -> None:
    """Every included paper appraised with every answer "no", and one reviewer judgement:
    page 03's summary of findings rates every finding's methodological limitations as
    serious, and shows the reviewer's level marked as theirs."""
    from synth.extraction.cerqual import record_judgement
    from synth.report.notebooks import execute, find_notebooks, render_body
    from synth.report.pages import new_nonce, page_html
    from synth.store import connect

    db = copy_db(kei_tagged_db)
    casp = _tool("appraisal-casp-qualitative")
    rows = [
        (rid, casp.id, f, json.dumps("no"), "ana") for rid in _kei_papers(db) for f in casp.fields
    ]
    con = connect(db)
    try:
        with con:
            con.executemany(
                "INSERT INTO extraction_events (record_id, form_id, field_id, value, reviewer,"
                " created_at) VALUES (?, ?, ?, ?, ?, '2026-01-01T00:00:00')",
                rows,
            )
        record_judgement(con, "leadership-commitment", "relevance", "minor concerns", "ana",
                         note="all NHS settings")  # fmt: skip
    finally:
        con.close()
    spec = find_notebooks(names=["03_thematic_synthesis"])[0]
    result = execute(spec, tmp_path / "out", {"db": str(db), "corpus": str(CORPUS)})
    assert result.error is None, result.error
    s = result.summary
    with_papers = {t for t, n in s["papers_per_theme"].items() if n}
    assert set(s["confidence"]) == with_papers
    assert s["judged"] == {"leadership-commitment": ["relevance"]}
    # serious methodological limitations take two steps: moderate at best
    assert set(s["confidence"].values()) <= {"low", "very low", "moderate"}
    nonce = new_nonce()
    page = page_html(render_body(result.nb, nonce), title="t", review_title="t", nonce=nonce)
    assert "Summary of findings (GRADE-CERQual)" in page
    assert "minor concerns*" in page
    assert page.count("serious concerns") >= len(with_papers)


def test_items_nobody_answered_are_left_out() -> None:
    """MMAT's criteria of other designs stay blank for a qualitative study: the item plot
    shows only the items some paper answered, the domain plot and bars only its domains."""
    from synth.report.appraisal_figures import domain_counts, item_traffic_light, traffic_light

    mmat = _tool("appraisal-mmat")
    wanted = [f for f in mmat.fields.values() if f.section in mmat.sections[:2]]
    values = pd.DataFrame(
        [("a", mmat.id, f.id, "yes") for f in wanted],
        columns=["record_id", "form_id", "field_id", "value"],
    )
    assert 0 < len(wanted) < len(mmat.fields)
    assert list(item_traffic_light(values, mmat).data[0].x) == [f.id for f in wanted]
    assert list(traffic_light(values, mmat).data[0].x) == [*mmat.sections[:2], "Overall"]
    assert domain_counts(values, mmat).index.tolist() == [*mmat.sections[:2], "overall"]


@pytest.mark.browser
def test_the_plots_draw_offline_and_run_no_title(browser, tmp_path: Path) -> None:
    """In headless chromium: both plots draw from the shared plotly.js under the page's
    policy, the answers' symbols are drawn in the cells, hostile citations run nothing."""
    from synth.report.appraisal_figures import domain_bars, traffic_light
    from tests.browser import console_errors, misplaced_tick_labels, network_urls
    from tests.report.test_report_browser import _wait_for_plots

    form = _tool("appraisal-casp-qualitative")
    answers = {"a": ["yes", "no"], "b": ["can't tell"], "c": ["yes"], "d": ["no", "yes"]}
    rows = [row for rid, pattern in answers.items() for row in _answers(form, rid, pattern)]
    values = pd.DataFrame(rows, columns=["record_id", "form_id", "field_id", "value"])
    cites = {"a": HOSTILE["script"], "b": HOSTILE["img"], "c": HOSTILE["close"], "d": "Lee 2019"}
    page = figure_page([traffic_light(values, form, cites), domain_bars(values, form)], tmp_path)
    console_errors(browser)
    browser.get(page.as_uri())
    divs, drawn = _wait_for_plots(browser)
    assert divs == drawn == 2
    texts = browser.execute_script(
        "return Array.from(document.querySelectorAll('.plotly-graph-div')[0]"
        ".querySelectorAll('text')).map(function (t) { return t.textContent; });"
    )
    assert {"+", "?", "\u2212"} <= set(texts)
    assert HOSTILE["script"] in texts  # the citation drawn as its own text
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    assert console_errors(browser) == [] and network_urls(browser) == []
    assert misplaced_tick_labels(browser) == []


def test_the_page_reads_the_reviews_own_extraction_form(
    kei_tagged_db: Path, copy_db, tmp_path: Path
) -> None:
    # values saved with `synth extract open --form my-form.yml` are the ones the page
    # shows when the run names that form (run config `extraction_form`)
    from synth.report.extraction_page import extraction_view
    from synth.report.overview import select_records
    from synth.store import connect

    form_file = tmp_path / "our-form.yml"
    form_file.write_text(
        "id: our-form\ntitle: Our team's form\nsections:\n  - section: Study\n    fields:\n"
        "      - {id: aims, label: Aims, type: text, key: true}\n",
        encoding="utf-8",
    )
    db = copy_db(kei_tagged_db)
    paper = _kei_papers(db)[0]
    _record(db, [(paper, "our-form", "aims", "Co-design a ward with patients")])
    con = connect(db)
    try:
        selection = select_records(con, stage="full_text", included_only=True)
        ours = extraction_view(con, selection, extraction=str(form_file))
        default = extraction_view(con, selection)
    finally:
        con.close()
    assert ours.extraction.id == "our-form" and ours.extracted == 1
    assert "Co-design a ward with patients" in ours.characteristics.to_string()
    assert default.extracted == 0  # the packaged form has no such values


def test_agreement_between_extractors_is_reported_per_field(kei_tagged_db: Path, copy_db) -> None:
    from synth.report.extraction_page import agreement_table, extraction_view
    from synth.report.overview import select_records
    from synth.store import connect

    db = copy_db(kei_tagged_db)
    a, b = _kei_papers(db)[:2]
    form = "coproduction-extraction"
    _record(db, [(a, form, "aims", "Redesign a ward"), (b, form, "aims", "Improve discharge"),
                 (a, form, "country", "United Kingdom")], reviewer="ana")  # fmt: skip
    _record(db, [(a, form, "aims", "redesign a ward "), (b, form, "aims", "Shorter stays"),
                 (a, form, "country", "United Kingdom")], reviewer="ben")  # fmt: skip
    con = connect(db)
    try:
        view = extraction_view(con, select_records(con, stage="full_text", included_only=True))
        table = agreement_table(con, view).set_index("field")
    finally:
        con.close()
    aims = table.loc["Aims"]
    assert (aims["papers with two extractors"], aims["agreeing"], aims["share"]) == (2, 1, "50%")
    assert table.loc["Country", "share"] == "100%"
    assert len(table) == 2  # fields nobody extracted twice are left out
