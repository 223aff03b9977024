"""The review run: configuration, page assembly, manifest, and the bundled run's output."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import plotly.graph_objects as go
import pytest

from synth.report import pages
from synth.report.display import (
    PLOTLY_MIME,
    SUMMARY_MIME,
    figure_bundle,
    read_summary,
    table_html,
)
from synth.report.manifest import hash_inputs, sha256_file
from synth.report.notebooks import render_body
from synth.report.run import DEFAULT_FILTERS, resolve_config
from tests.report.test_notebooks import CORPUS, REPORT_NOTEBOOKS, bundled_report

PAYLOAD = "<script>window.__pwned=1</script>"


@pytest.fixture(scope="session")
def report() -> object:
    return bundled_report()


# ------------------------------------------------------------------ configuration


def _corpus(tmp_path: Path, review: str | None = None) -> Path:
    corpus = tmp_path / "my-review"
    corpus.mkdir()
    (corpus / "refs.ris").write_text("TY  - JOUR\nTI  - A paper\nER  - \n", "utf-8")
    if review is not None:
        (corpus / "review.yml").write_text(review, "utf-8")
    return corpus


def test_corpus_alone_uses_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    corpus = _corpus(tmp_path)
    cfg = resolve_config(corpus=corpus)
    assert cfg.corpus == corpus.resolve()
    assert cfg.db == Path("data/my-review.sqlite")
    assert cfg.out == Path("data/reports/my-review")
    assert cfg.review is None
    assert cfg.filters == DEFAULT_FILTERS


def test_corpus_review_yml_report_section(tmp_path: Path) -> None:
    corpus = _corpus(
        tmp_path,
        "inclusion_criteria: []\nreport:\n  db: ../store.sqlite\n  out: ../site\n"
        "  filters: {year_min: 2010, settings: [acute-care]}\n  workers: 2\n",
    )
    cfg = resolve_config(corpus=corpus)
    assert cfg.db == (tmp_path / "store.sqlite").resolve()
    assert cfg.out == (tmp_path / "site").resolve()
    assert cfg.review == corpus.resolve() / "review.yml"
    assert cfg.filters["year_min"] == 2010 and cfg.filters["settings"] == ["acute-care"]
    assert cfg.filters["stage"] == "full_text"
    assert cfg.workers == 2


def test_config_file_names_corpus_db_and_out(tmp_path: Path) -> None:
    _corpus(tmp_path)
    config = tmp_path / "run.yml"
    config.write_text("corpus: my-review\ndb: stores/r.sqlite\nout: site\ntitle: Mine\n", "utf-8")
    cfg = resolve_config(config=config)
    assert cfg.corpus == (tmp_path / "my-review").resolve()
    assert cfg.db == (tmp_path / "stores" / "r.sqlite").resolve()
    assert cfg.out == (tmp_path / "site").resolve()
    assert cfg.title == "Mine"
    # arguments win over the file
    cfg = resolve_config(config=config, out=tmp_path / "elsewhere", db=tmp_path / "x.sqlite")
    assert cfg.out == tmp_path / "elsewhere" and cfg.db == tmp_path / "x.sqlite"


def test_config_that_is_a_review_definition(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path, "inclusion_criteria: []\n")
    cfg = resolve_config(config=corpus / "review.yml")
    assert cfg.corpus == corpus.resolve()
    assert cfg.review == (corpus / "review.yml").resolve()


def test_bad_configs_name_the_problem(tmp_path: Path) -> None:
    _corpus(tmp_path)
    config = tmp_path / "run.yml"
    config.write_text("report:\n  corpus: my-review\n  output: site\n", "utf-8")
    with pytest.raises(ValueError, match=r"unknown run key.*output"):
        resolve_config(config=config)
    config.write_text("report:\n  corpus: my-review\n  filters: {year: 2010}\n", "utf-8")
    with pytest.raises(ValueError, match="filters take"):
        resolve_config(config=config)
    with pytest.raises(FileNotFoundError, match="no such corpus folder"):
        resolve_config(corpus=tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no such config"):
        resolve_config(config=tmp_path / "missing.yml")


# ------------------------------------------------------------------ pages and display


def test_strip_remote_drops_loaded_resources_and_keeps_links() -> None:
    page = (
        '<head><script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js">'
        "</script><script type=\"text/javascript\" src='//cdn.jsdelivr.net/mathjax.js'></script>"
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=X">'
        '<script src="plotly.min.js"></script><style>@import url(https://x.org/a.css);</style></head>'
        '<body><a href="https://doi.org/10.1/x">paper</a><img src=http://x.org/t.png>'
        '<iframe src="https://evil.org"></iframe><img src="data:image/png;base64,AAAA"></body>'
    )
    assert len(pages.remote_resources(page)) == 6
    clean = pages.strip_remote(page)
    assert pages.remote_resources(clean) == []
    assert '<a href="https://doi.org/10.1/x">' in clean
    assert '<script src="plotly.min.js"></script>' in clean
    assert "data:image/png" in clean


def test_page_loads_shared_plotly_under_a_nonce_policy() -> None:
    page = pages.page_html("<p>body</p>", title="T", review_title="R & D", nonce="abc")
    assert '<script src="plotly.min.js" charset="utf-8" nonce="abc"></script>' in page
    policy = re.search(r'Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "script-src 'nonce-abc'" in policy and "default-src 'none'" in policy
    assert "R &amp; D" in page


def test_index_escapes_the_review_title() -> None:
    page = pages.index_html(
        review_title=PAYLOAD, subtitle="<b>sub</b>",
        pages=[pages.PageLink("01.html", "One <i>", "desc")],
        extras=[pages.PageLink("evidence-map.html", "Map")],
    )  # fmt: skip
    assert PAYLOAD not in page and "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert "<b>sub</b>" not in page
    assert '<a href="01.html">One &lt;i&gt;</a>' in page
    assert 'src="plotly.min.js"' not in page


def test_figure_html_cannot_be_closed_by_a_title() -> None:
    fig = go.Figure(go.Bar(x=[f"</script>{PAYLOAD}"], y=[1]), layout={"height": 300})
    bundle = figure_bundle(fig)
    assert set(bundle) == {PLOTLY_MIME, "text/html", "text/plain"}
    html_part = pages.figure_html(bundle[PLOTLY_MIME], nonce="n1", div_id="figure-1")
    assert html_part.count("</script>") == 1 and html_part.endswith("</script>")
    assert '<script nonce="n1">Plotly.newPlot("figure-1"' in html_part
    assert "height:300px" in html_part


def test_table_html_escapes_cells_and_headers() -> None:
    df = pd.DataFrame({"title <x>": [PAYLOAD, '<img src=x onerror="window.__pwned=1">']})
    out = table_html(df, caption="<b>c</b>")
    assert "<script>" not in out and "<img" not in out and "<b>c</b>" not in out
    assert "&lt;script&gt;" in out and "title &lt;x&gt;" in out


def test_render_body_hides_code_and_summary() -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("db = 'x'")
    params.metadata["tags"] = ["parameters"]
    shown = nbformat.v4.new_code_cell("secret_code_marker = 1")
    shown.outputs = [nbformat.v4.new_output("display_data", {"text/html": "<p>visible</p>"})]
    fig = go.Figure(go.Scatter(x=[1], y=[2]))
    plot = nbformat.v4.new_code_cell("show_figure(fig)")
    plot.outputs = [nbformat.v4.new_output("display_data", figure_bundle(fig))]
    summary = nbformat.v4.new_code_cell("publish_summary(x)")
    summary.metadata["tags"] = ["synth-summary"]
    summary.outputs = [nbformat.v4.new_output("display_data", {SUMMARY_MIME: {"n": 1}})]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), params, shown, plot, summary]
    body = render_body(nb, "N0NCE")
    assert "secret_code_marker" not in body and "db = " not in body
    assert "<p>visible</p>" in body and "Title" in body
    assert SUMMARY_MIME not in body and "publish_summary" not in body
    assert '<script nonce="N0NCE">Plotly.newPlot("figure-1"' in body
    assert read_summary(nb) == {"n": 1}


def test_hash_inputs_walks_folders(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path, "inclusion_criteria: []\n")
    got = hash_inputs(
        {"corpus": [corpus], "missing": [tmp_path / "nope.yml"]}, relative_to=tmp_path
    )
    assert got["corpus"] == {
        "my-review/refs.ris": sha256_file(corpus / "refs.ris"),
        "my-review/review.yml": sha256_file(corpus / "review.yml"),
    }
    assert got["missing"] == {}


# ------------------------------------------------------------------ the bundled run


@pytest.mark.notebook
@pytest.mark.slow
def test_index_links_every_page_and_file(report: object) -> None:
    index = (report.out / "index.html").read_text("utf-8")
    hrefs = re.findall(r'href="([^"]+)"', index)
    for name in REPORT_NOTEBOOKS:
        assert f"{name}.html" in hrefs
    for extra in ("evidence-map.html", "prisma.svg", "manifest.json", "notebooks/"):
        assert extra in hrefs
    for href in hrefs:
        assert (report.out / href).exists(), href
    assert "<h1>Co-production &amp; Quality Improvement</h1>" in index


@pytest.mark.notebook
@pytest.mark.slow
def test_pages_are_small_offline_and_share_plotly(report: object) -> None:
    plotly_js = report.out / pages.PLOTLY_JS
    assert plotly_js.stat().st_size > 1_000_000
    for name in REPORT_NOTEBOOKS:
        page = (report.out / f"{name}.html").read_text("utf-8")
        assert len(page.encode("utf-8")) < 1_000_000, name
        assert pages.remote_resources(page) == [], name
        assert page.count('src="plotly.min.js"') == 1
        for word in ("require.js", "mathjax", "cdn.", "unpkg"):
            assert word not in page.lower(), (name, word)
        # no code reached the page
        assert "from synth." not in page and "publish_summary" not in page
    assert report.evidence_map.stat().st_size < 5_000_000
    assert (report.out / "prisma.svg").read_text("utf-8").lstrip().startswith(("<svg", "<?xml"))


@pytest.mark.notebook
@pytest.mark.slow
def test_manifest_hashes_every_input(report: object) -> None:
    manifest = json.loads((report.out / "manifest.json").read_text("utf-8"))
    inputs = manifest["inputs"]
    for path in CORPUS.rglob("*"):
        if path.is_file() and path.name != "review.yml":
            key = path.relative_to(CORPUS.parent).as_posix()
            assert inputs["corpus"][key] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert list(inputs["review"].values()) == [sha256_file(CORPUS / "review.yml")]
    for group in ("codebook", "criteria_rules", "themes", "notebooks"):
        assert inputs[group], group
    assert len(inputs["notebooks"]) == len(REPORT_NOTEBOOKS)
    assert manifest["synth_version"]
    assert manifest["git"] is None or re.fullmatch(r"[0-9a-f]{40}", manifest["git"]["commit"])
    assert manifest["parameters"]["stage"] == "full_text"
    assert manifest["packages"]["plotly"]
    assert set(manifest["outputs"]["summaries"]) == set(REPORT_NOTEBOOKS)
    assert {"import", "tag", "notebooks", "render"} <= set(manifest["timings_seconds"])


# ------------------------------------------------------------------ the papers a report covers

RIS_FIVE = "".join(
    f"TY  - JOUR\nTI  - Paper {i} on co-production\nPY  - {year}\nER  - \n\n"
    for i, year in enumerate([2009, 2012, 2015, 2018, 2021], start=1)
)


@pytest.fixture
def small_store(tmp_path: Path) -> object:
    from synth.store import connect, import_paths

    (tmp_path / "refs.ris").write_text(RIS_FIVE, "utf-8")
    con = connect(tmp_path / "small.sqlite")
    import_paths(con, [tmp_path / "refs.ris"])
    yield con
    con.close()


def _ids_by_title(con: object) -> dict[str, str]:
    return {t: r for r, t in con.execute("SELECT record_id, title FROM records")}


def test_selection_without_decisions_keeps_every_record(small_store: object) -> None:
    from synth.report.overview import select_records

    sel = select_records(small_store)
    assert len(sel.records) == 5
    assert "No screening decisions" in sel.describe()
    sel = select_records(small_store, year_min=2012, year_max=2018)
    assert sorted(sel.records["year"].tolist()) == [2012, 2015, 2018]


def test_selection_follows_the_decisions(small_store: object) -> None:
    from synth.report.overview import select_records
    from synth.screening.decisions import record_decision

    ids = _ids_by_title(small_store)
    for i in (1, 2, 3):
        record_decision(small_store, record_id=ids[f"Paper {i} on co-production"],
                        reviewer="ana", decision="include")  # fmt: skip
    record_decision(small_store, record_id=ids["Paper 4 on co-production"], reviewer="ana",
                    decision="exclude", reason="unclear")  # fmt: skip
    # no full-text decisions yet: the title-abstract includes stand in, and the page says so
    sel = select_records(small_store, stage="full_text")
    assert sorted(sel.records["title"]) == [f"Paper {i} on co-production" for i in (1, 2, 3)]
    assert "title-abstract includes shown" in sel.describe()
    record_decision(small_store, record_id=ids["Paper 2 on co-production"], reviewer="ana",
                    decision="include", stage="full_text")  # fmt: skip
    sel = select_records(small_store, stage="full_text")
    assert sel.records["title"].tolist() == ["Paper 2 on co-production"]
    assert len(select_records(small_store, included_only=False).records) == 5


def test_selection_by_setting_uses_the_tags(small_store: object) -> None:
    from synth.report.overview import label_counts, select_records
    from synth.store.tags import add_override

    ids = _ids_by_title(small_store)
    for i in (2, 5):
        add_override(small_store, ids[f"Paper {i} on co-production"], "setting", "acute-care",
                     "set", reviewer="ana")  # fmt: skip
    small_store.commit()
    sel = select_records(small_store, settings=["acute-care"], included_only=False)
    assert sorted(sel.records["year"].tolist()) == [2012, 2021]
    counts = label_counts(sel.records, sel.tags)
    assert counts.to_dict("records") == [
        {"facet": "setting", "label": "acute-care", "papers": 2, "by reviewer": 2}
    ]
    assert "settings: acute-care" in sel.describe()


def test_table_records_caps_a_large_table() -> None:
    from synth.report.overview import table_records

    records = pd.DataFrame({"title": [f"t{i}" for i in range(10)], "year": list(range(2000, 2010))})
    shown, note = table_records(records, limit=20)
    assert shown is records and note is None
    shown, note = table_records(records, limit=3)
    assert shown["year"].tolist() == [2009, 2008, 2007]
    assert "3 most recent of 10 papers" in note


# ------------------------------------------------------------------ corpus overview counts


def _ris(key: str, *papers: tuple[str, str]) -> str:
    return "".join(
        f"TY  - JOUR\nID  - {key}{i}\nTI  - {title}\nAU  - Smith, Jo\nDO  - {doi}\nPY  - 2015\n"
        "ER  - \n\n"
        for i, (title, doi) in enumerate(papers)
    )


def test_overview_counts_only_real_duplicate_groups_and_shows_folders(tmp_path: Path) -> None:
    """Two files of one name in two folders, two duplicate pairs among five records:
    'in duplicate groups' is 4 (a record alone in its group is not in a duplicate group)
    and each file is shown with its folder."""
    from synth.report.overview import dedup_summary, import_summary
    from synth.store import connect, import_paths, load_records

    corpus = tmp_path / "mine"
    ward, home = ("Co-design in a ward", "10.1000/ward.1"), ("At home", "10.1000/home.2")
    for folder, papers in {
        "scopus": [ward, home],
        "wos": [ward, home, ("Patient panels", "10.1000/panel.3")],
    }.items():  # fmt: skip
        (corpus / folder).mkdir(parents=True)
        (corpus / folder / "export.ris").write_text(_ris(folder, *papers), "utf-8")
    con = connect(tmp_path / "store.sqlite")
    import_paths(con, [corpus])
    summary = dedup_summary(load_records(con, with_groups=True)).set_index("step")["records"]
    assert summary.to_dict() == {
        "records read": 5, "in duplicate groups": 4, "duplicates removed": 2, "unique records": 3,
    }  # fmt: skip
    for root in (corpus, None):  # the corpus folder given, or the folder the files share
        files = import_summary(con, root=root)["file"].tolist()
        assert sorted(files) == ["scopus/export.ris", "wos/export.ris"]
    con.close()


def test_overview_of_the_bundled_corpus(tmp_path: Path) -> None:
    from synth.report.overview import dedup_summary, import_summary
    from synth.store import connect, import_paths, load_records

    con = connect(tmp_path / "kei.sqlite")
    import_paths(con, [CORPUS])
    records = load_records(con, with_groups=True)
    grouped = con.execute(
        "SELECT count(*) FROM duplicate_groups WHERE group_id IN"
        " (SELECT group_id FROM duplicate_groups GROUP BY group_id HAVING count(*) > 1)"
    ).fetchone()[0]
    summary = dedup_summary(records).set_index("step")["records"]
    assert summary["records read"] == len(records) == 68
    assert summary["in duplicate groups"] == grouped
    assert 0 < grouped < 68
    files = import_summary(con, root=CORPUS)["file"].tolist()
    con.close()
    assert len(files) == len(set(files))
    assert {"extracts/spencer2013.md", "fulltexts/spencer2013.md", "references.bib"} <= set(files)


# ------------------------------------------------------------------ one report per review


def test_each_review_gets_its_own_store_and_report_folder(tmp_path: Path) -> None:
    """The review name is review.yml's id, else the corpus folder's name."""
    named = _corpus(tmp_path, "id: Team A / 2024\ninclusion_criteria: []\n")
    cfg = resolve_config(corpus=named)
    assert cfg.name == "Team-A-2024"
    assert cfg.db == Path("data/Team-A-2024.sqlite")
    assert cfg.out == Path("data/reports/Team-A-2024")
    other = tmp_path / "other" / "exports"
    other.mkdir(parents=True)
    cfg = resolve_config(corpus=other)
    assert (cfg.name, cfg.out) == ("exports", Path("data/reports/exports"))
    assert resolve_config(corpus=other, out=tmp_path / "x").out == tmp_path / "x"


def _run_cli(*args: str) -> object:
    from typer.testing import CliRunner

    from synth.cli import app

    return CliRunner().invoke(app, ["review", "run", "--no-progress", *args])


@pytest.mark.notebook
@pytest.mark.slow
def test_two_corpora_write_two_reports_neither_touching_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    alpha = _corpus(tmp_path, "id: alpha\ntitle: Alpha\ninclusion_criteria: []\n")
    beta = tmp_path / "beta"
    beta.mkdir()
    (beta / "refs.ris").write_text("TY  - JOUR\nTI  - Another paper\nER  - \n", "utf-8")
    one = "--notebook", "01_corpus_overview"
    first = _run_cli("--corpus", str(alpha), *one)
    assert first.exit_code == 0, first.output
    alpha_index = tmp_path / "data" / "reports" / "alpha" / "index.html"
    assert f"report: {Path('data/reports/alpha/index.html')} (" in first.output
    before = alpha_index.read_bytes()
    second = _run_cli("--corpus", str(beta), *one)
    assert second.exit_code == 0, second.output
    beta_index = tmp_path / "data" / "reports" / "beta" / "index.html"
    assert beta_index.is_file() and alpha_index.read_bytes() == before
    assert (tmp_path / "data" / "alpha.sqlite").is_file()
    assert (tmp_path / "data" / "beta.sqlite").is_file()
    assert sorted(p.name for p in (tmp_path / "data" / "reports").iterdir()) == ["alpha", "beta"]
    assert "Alpha" in alpha_index.read_text("utf-8") and "Alpha" not in beta_index.read_text(
        "utf-8"
    )


def _boom_notebook(folder: Path) -> Path:
    """A report notebook whose second cell raises, with the run's parameters cell."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(
        "\n".join(f"{name} = None" for name in sorted(REPORT_PARAMETERS))
    )
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("raise RuntimeError('boom in the notebook')")]
    nb.metadata["synth"] = {"report": True, "title": "Boom", "description": "raises"}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.metadata["language_info"] = {"name": "python"}
    path = folder / "09_boom.ipynb"
    nbformat.write(nb, path)
    return path


REPORT_PARAMETERS = {
    "db", "corpus", "review", "themes", "out_dir", "stage", "included_only", "year_min",
    "year_max", "settings",
}  # fmt: skip


@pytest.mark.notebook
@pytest.mark.slow
def test_a_failed_run_leaves_the_last_good_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synth.report import run as run_module
    from synth.report.notebooks import find_notebooks

    corpus = _corpus(tmp_path)
    out = tmp_path / "site" / "mine"
    args = ("--corpus", str(corpus), "--db", str(tmp_path / "r.sqlite"), "--out", str(out))
    good = _run_cli(*args, "--notebook", "01_corpus_overview")
    assert good.exit_code == 0, good.output
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert Path("01_corpus_overview.html") in before

    boom = find_notebooks(_boom_notebook(tmp_path).parent)
    monkeypatch.setattr(run_module, "find_notebooks", lambda names=None: boom)
    bad = _run_cli(*args)
    assert bad.exit_code == 1, bad.output
    message = " ".join(bad.output.split())
    assert "boom in the notebook" in message
    assert f"the last good report in {out} is unchanged" in message
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    failed = tmp_path / "site" / "mine.failed"
    assert (failed / "09_boom.html").is_file()
    assert [p.name for p in (tmp_path / "site").iterdir() if p.name.startswith(".")] == []


def test_a_folder_that_is_not_a_report_is_never_replaced(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "review.sqlite").write_bytes(b"precious")
    result = _run_cli("--corpus", str(corpus), "--out", str(tmp_path / "data"))
    assert result.exit_code == 2
    assert "is not a synth report" in " ".join(result.output.split())
    assert (tmp_path / "data" / "review.sqlite").read_bytes() == b"precious"


# ------------------------------------------------------------------ a corpus without review.yml


@pytest.mark.peer
@pytest.mark.notebook
@pytest.mark.slow
def test_review_run_on_real_exports_without_review_yml(
    peer_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """review.yml is optional: the run exits 0 and prints the report path, and the pages
    (and `synth tag describe`) say what a review.yml would add instead of failing."""
    import shutil

    from synth.store import connect
    from synth.store.tags import current_tags
    from synth.tagging.workflow import NO_REVIEW_NOTE

    corpus = tmp_path / "my-exports"
    corpus.mkdir()
    for name in (
        "rispy/example_full_write.ris", "jabref/RisImporterTestScopus.ris",
        "bibtexparser-v1/multiple_entries.bib",
        "jabref/MedlinePlainImporterTestCompleteEntry.txt",
    ):  # fmt: skip
        shutil.copy(peer_data / "formats" / name, corpus / Path(name).name)
    monkeypatch.chdir(tmp_path)
    notebooks = ["01_corpus_overview", "02_tags_and_criteria", "05_prisma_and_methods"]
    result = _run_cli("--corpus", str(corpus), *[a for n in notebooks for a in ("--notebook", n)])
    output = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    report = tmp_path / "data" / "reports" / "my-exports"
    assert f"report: {Path('data/reports/my-exports/index.html')} (" in result.output
    assert (report / "index.html").is_file()
    assert " ".join(NO_REVIEW_NOTE.split()) in output  # from `tag describe`
    assert "papers included" in output  # the corpus is described all the same
    for page in ("02_tags_and_criteria.html", "05_prisma_and_methods.html"):
        html = (report / page).read_text("utf-8")
        assert "No review.yml" in html and "review.yml" in html, page
    con = connect(tmp_path / "data" / "my-exports.sqlite")
    tags = current_tags(con)
    con.close()
    assert len(tags) and "criterion" not in set(tags["facet"])


def test_a_run_configuration_names_a_dask_cluster_and_arguments_replace_it(
    tmp_path: Path,
) -> None:
    _corpus(tmp_path)
    config = tmp_path / "run.yml"
    config.write_text("corpus: my-review\ncluster: local:2\n", "utf-8")
    cfg = resolve_config(config=config)
    assert (cfg.cluster, cfg.scheduler) == ("local:2", None)
    cfg = resolve_config(config=config, scheduler="tcp://10.0.0.5:8786")
    assert (cfg.cluster, cfg.scheduler) == (None, "tcp://10.0.0.5:8786")
    assert resolve_config(corpus=tmp_path / "my-review").cluster is None  # one machine


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ("cluster: local:2\nscheduler: tcp://10.0.0.5:8786\n", "not both"),
        ("cluster: four\n", "four"),
        ("scheduler: 10.0.0.5\n", "10.0.0.5"),
    ],
)
def test_a_bad_cluster_in_a_run_configuration_names_the_file(
    tmp_path: Path, keys: str, problem: str
) -> None:
    _corpus(tmp_path)
    config = tmp_path / "run.yml"
    config.write_text("corpus: my-review\n" + keys, "utf-8")
    with pytest.raises(ValueError, match=problem) as err:
        resolve_config(config=config)
    assert str(err.value).startswith(f"{config.resolve()}: ")
