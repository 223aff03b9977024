"""The ``synth`` command line: the same functions the notebooks call."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from synth import __version__
from synth.extraction.cli import extract_app
from synth.fulltext.cli import fulltexts_app
from synth.screening.cli import screen_app

app = typer.Typer(
    help="synth: evidence synthesis workbench for the co-production literature.",
    no_args_is_help=True,
    add_completion=False,
)
export_app = typer.Typer(help="Export records from a review store.", no_args_is_help=True)
dup_app = typer.Typer(help="Inspect and correct duplicate groups.", no_args_is_help=True)
review_app = typer.Typer(help="Run a whole review.", no_args_is_help=True)
app.add_typer(export_app, name="export")
app.add_typer(dup_app, name="duplicates")
app.add_typer(review_app, name="review")
tag_app = typer.Typer(
    help="Tag records (setting, approach, design, country, criteria) with their evidence.",
    invoke_without_command=True,
)
app.add_typer(tag_app, name="tag")
app.add_typer(screen_app, name="screen")
app.add_typer(extract_app, name="extract")
app.add_typer(fulltexts_app, name="fulltexts")

# piped output (CI logs, papermill) gets a readable width instead of rich's 80 columns
console = Console(width=None if Console().is_terminal else 120)
err = Console(stderr=True, width=None if Console(stderr=True).is_terminal else 120)

DbOption = Annotated[Path, typer.Option("--db", help="The review store (a SQLite file).")]
#: Where a command's heavy stages run (synth.distributed): a Dask LocalCluster started
#: here, or an existing cluster's scheduler; neither is this process alone.
ClusterOption = Annotated[
    str | None,
    typer.Option(help="Run on a Dask cluster started here: local (a worker per core) or local:N."),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(help="Run on an existing Dask cluster: its scheduler, tcp://HOST:8786."),
]


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@contextmanager
def clear_errors():  # type: ignore[no-untyped-def]
    """Bad input ends in one clear message naming the file, never a traceback."""
    from synth.corpus.model import ReadError
    from synth.store.db import StoreError

    try:
        yield
    except (ReadError, StoreError, FileNotFoundError, KeyError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        err.print(f"[bold red]error:[/] {escape(str(message))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def frame_table(df: pd.DataFrame, title: str | None = None) -> Table:
    """A frame as a rich table. Cells, headers and title are plain text, never markup: a
    title or file name holding ``[/i]`` is shown as it is."""
    table = Table(title=None if title is None else Text(title), show_lines=False)
    for col in df.columns:
        numeric = pd.api.types.is_numeric_dtype(df[col])
        table.add_column(Text(str(col)), justify="right" if numeric else "left", overflow="fold")
    for row in df.itertuples(index=False):
        table.add_row(*[Text("" if pd.isna(v) else str(v)) for v in row])
    return table


def _import(
    paths: list[Path],
    db: Path,
    progress: bool,
    cluster: str | None = None,
    scheduler: str | None = None,
) -> None:
    """Import and print the summary; exit 2 when nothing at all could be read."""
    from synth.distributed import cluster_client
    from synth.store import connect, import_paths

    for p in paths:
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or folder")
    con = connect(db)
    try:
        with cluster_client(cluster, scheduler) as client:
            report = import_paths(con, paths, progress=progress, client=client)
    finally:
        con.close()
    summary = report.summary()
    shown = summary.assign(
        file=[_short(f, paths) for f in summary["file"]],
        status=summary["status"].str.replace(" (imported before)", "", regex=False),
    ).drop(columns=["database"])
    console.print(frame_table(shown, title=f"Import into {db}"))
    t = report.totals
    console.print(
        f"store: [bold]{t['records']}[/] records from {t['sources']} files; "
        f"[bold]{t['duplicates']}[/] duplicates in groups ({t['groups']} unique records); "
        f"{t['extracts']} extracts ({t.get('extracts_unlinked', 0)} unlinked), "
        f"{t['fulltexts']} full texts ({t.get('pdfs', 0)} PDFs); {t['failures']} failures and "
        f"{t.get('warnings', 0)} warnings reported"
    )
    if len(report.failures):
        shown_f = report.failures.head(20).assign(raw=report.failures["raw"].str.slice(0, 60))
        console.print(
            frame_table(
                shown_f, title="Failures and warnings (first 20; `synth failures` lists all)"
            )
        )
    files = report.files
    if not (files["read"].sum() + files["extracts"].sum() + files["fulltexts"].sum()):
        why = (
            f"none of the {len(files)} file(s) given held a readable record; see the failures"
            if len(files)
            else "no importable file in the folder(s) given"
        )
        err.print(
            f"[bold red]error:[/] nothing could be read: {why}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)


def _short(file: str, roots: list[Path]) -> str:
    """A file's name relative to the folder it was imported from (TOTAL stays TOTAL)."""
    path = Path(file)
    for root in roots:
        if root.is_dir() and path.is_relative_to(root):
            return str(path.relative_to(root))
    return path.name if file != "TOTAL" else file


@app.command("import")
def import_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to import.")],
    db: DbOption,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    cluster: ClusterOption = None,
    scheduler: SchedulerOption = None,
) -> None:
    """Import reference exports (BibTeX, RIS, PubMed, WoS, CSV/TSV/XLSX, extracts) and
    PDFs (full texts, linked to their references).

    With --cluster or --scheduler the reference files (a large one in chunks) are read
    on Dask workers and stored in one transaction; PDFs and deduplication run here.
    Exits 0 when at least one record, extract or full text was read (failures are listed);
    exits 2 when nothing could be read from any file given.
    """
    with clear_errors():
        _import(paths, db, progress, cluster, scheduler)


@app.command("failures")
def failures_cmd(
    db: DbOption,
    out: Annotated[Path | None, typer.Option(help="Write the report as CSV.")] = None,
) -> None:
    """List every record or file that could not be read, with file, line and reason.

    Rows with severity ``warning`` were imported but need a look (e.g. no title, a DOI).
    """
    from synth.store import connect, load_failures

    with clear_errors():
        con = connect(db)
        df = load_failures(con)
        con.close()
        if out:
            from synth.corpus.writers.csv import write_table

            write_table(df, out)  # raw text and titles are data, never formulas
            console.print(f"wrote {len(df)} failures to {out}")
        elif df.empty:
            console.print("no failures")
        else:
            console.print(frame_table(df.assign(raw=df["raw"].str.slice(0, 80))))


@export_app.command("records")
def export_records_cmd(
    db: DbOption,
    out: Annotated[Path, typer.Option("--out", help="Output file: .csv, .ris or .bib")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv, ris or bibtex (default: from --out)")
    ] = None,
    kept_only: Annotated[
        bool, typer.Option("--kept-only", help="Only the kept record of each duplicate group.")
    ] = False,
) -> None:
    """Export records with their duplicate group (CSV) or for reference managers (RIS, BibTeX)."""
    from synth.exporting import export_records
    from synth.store import connect

    with clear_errors():
        con = connect(db)
        n = export_records(con, out, fmt=fmt, kept_only=kept_only)
        con.close()
        console.print(f"wrote {n} records to {out}")


@dup_app.command("pairs")
def dup_pairs_cmd(
    db: DbOption,
    out: Annotated[Path | None, typer.Option(help="Write the pairs as CSV.")] = None,
) -> None:
    """Show each duplicate link with its rule and scores, so a wrong one can be split."""
    from synth.store import connect, load_pairs

    with clear_errors():
        con = connect(db)
        df = load_pairs(con)
        con.close()
        if out:
            from synth.corpus.writers.csv import write_table

            write_table(df, out)  # raw text and titles are data, never formulas
            console.print(f"wrote {len(df)} pairs to {out}")
        else:
            cols = ["group_id", "record_a", "record_b", "rule", "score", "title_a", "title_b"]
            console.print(frame_table(df[cols].head(200)))


@dup_app.command("refresh")
def dup_refresh_cmd(
    db: DbOption,
    cluster: ClusterOption = None,
    scheduler: SchedulerOption = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Find the duplicate groups of every record in the store again (after editing
    dedupe.yml, or for a large store on a cluster); reviewers' splits stand.

    With --cluster or --scheduler the blocking, pairing and scoring run on Dask workers
    and give the same groups as without (synth.distributed.dedupe).
    """
    from synth.distributed import cluster_client
    from synth.store import connect
    from synth.store.duplicates import refresh_duplicates
    from synth.store.imports import store_totals

    with clear_errors():
        con = connect(db)
        try:
            with cluster_client(cluster, scheduler) as client:
                found = refresh_duplicates(con, progress=progress, client=client)
            totals = store_totals(con)
        finally:
            con.close()
    console.print(
        f"{db}: [bold]{totals['duplicates']}[/] duplicates in groups "
        f"({totals['groups']} unique records), {found['duplicate_pairs']} duplicate pairs"
    )


@dup_app.command("split")
def dup_split_cmd(
    record_ids: Annotated[list[str], typer.Argument(help="Record ids to take out of their group.")],
    db: DbOption,
    reviewer: Annotated[str, typer.Option(help="Who is making the correction.")],
    note: Annotated[str | None, typer.Option(help="Why.")] = None,
) -> None:
    """Split records out of a wrong duplicate group (kept across later imports)."""
    from synth.store import connect, split_records

    with clear_errors():
        con = connect(db)
        split_records(con, record_ids, reviewer=reviewer, note=note)
        con.close()
        console.print(f"split {len(record_ids)} record(s) out of their group")


@review_app.command("run")
def review_run_cmd(
    corpus: Annotated[
        Path | None,
        typer.Option(help="The corpus folder (default: corpus/kei-2020 without --config)."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="A run configuration (or a review.yml with a report: section)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="The report folder (default: data/reports/<review name>)."),
    ] = None,
    db: Annotated[
        Path | None, typer.Option(help="Review store (default: data/<review name>.sqlite).")
    ] = None,
    notebook: Annotated[
        list[str] | None,
        typer.Option(help="Only this report notebook (repeatable), e.g. 04_evidence_map."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Notebooks executed at a time (default 2 on 2+ cores).")
    ] = None,
    cluster: ClusterOption = None,
    scheduler: SchedulerOption = None,
    progress: Annotated[bool, typer.Option(help="Show progress.")] = True,
) -> None:
    """Run the review: import, deduplicate, tag, execute the notebooks, write the HTML report.

    --cluster / --scheduler (or the run configuration's cluster: / scheduler:) run the
    import, deduplication and tagging on Dask; the notebooks run here as always.
    """
    from synth.report.run import ReviewRunError, run_review

    if corpus is None and config is None:
        corpus = Path("corpus/kei-2020")
    with clear_errors():
        try:
            result = run_review(
                corpus=corpus, config=config, out=out, db=db, progress=progress,
                notebooks=notebook or None, workers=workers, cluster=cluster,
                scheduler=scheduler,
            )  # fmt: skip
        except ReviewRunError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(1) from None
        t = result.totals
        console.print(
            f"{t.get('records', 0)} records from {t.get('sources', 0)} files, "
            f"{t.get('duplicates', 0)} duplicates, {t.get('failures', 0)} failures"
        )
        _describe(result.db)
        tag_describe_cmd(db=result.db, review=result.review, every_record=False)
        seconds = sum(result.timings.values())
        index = result.index
        if index.is_relative_to(Path.cwd().resolve()):  # as the user would type it
            index = index.relative_to(Path.cwd().resolve())
        console.print(f"report: {index} ({len(result.pages)} pages, {seconds:.1f} s)")


def _describe(db: Path) -> None:
    from synth.store import connect, load_records

    con = connect(db)
    records = load_records(con, with_groups=True)
    con.close()
    kept = records[records["is_kept"].fillna(True).astype(bool)]
    by_type = kept.groupby("pub_type", dropna=False).size().rename("records").reset_index()
    console.print(frame_table(by_type, title="Unique records by publication type"))
    grey = int(kept["grey"].fillna(False).astype(bool).sum())
    console.print(f"{len(kept)} unique records: {len(kept) - grey} journal/book, {grey} grey")


@tag_app.callback()
def tag_cmd(
    ctx: typer.Context,
    db: Annotated[Path | None, typer.Option("--db", help="The review store.")] = None,
    codebook: Annotated[
        Path | None, typer.Option(help="A codebook YAML (default: synth's own).")
    ] = None,
    review: Annotated[
        Path | None,
        typer.Option(help="review.yml with the criteria (default: beside the imported files)."),
    ] = None,
    n_process: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    cluster: ClusterOption = None,
    scheduler: SchedulerOption = None,
    partition_size: Annotated[
        int | None, typer.Option(help="Records per partition on a cluster (default 5,000).")
    ] = None,
) -> None:
    """Tag every record in the store; `synth tag evaluate` and `describe` read the result."""
    if ctx.invoked_subcommand is not None:
        return
    if db is None:
        err.print("[bold red]error:[/] --db is required", soft_wrap=True)
        raise typer.Exit(2)
    from synth.distributed import cluster_client
    from synth.store import connect
    from synth.tagging.codebook import CodebookError
    from synth.tagging.workflow import tag_store

    with clear_errors():
        con = connect(db)
        try:
            with cluster_client(cluster, scheduler) as client:
                run = tag_store(
                    con, codebook_path=codebook, review_path=review, n_process=n_process,
                    progress=progress, client=client, partition_size=partition_size,
                )  # fmt: skip
        except CodebookError as exc:
            raise ValueError(str(exc)) from exc
        finally:
            con.close()
    summary = run.summary  # counted as the run was written: no record's rows held
    counts = summary.per_label()
    console.print(frame_table(counts, title=f"Tagging run {run.run_id}: records per label"))
    console.print(f"{summary.tags} tags with evidence on {summary.records} records")
    if summary.notes:
        console.print(f"{summary.notes} record(s) look non-English; tagged all the same")
    for failure in run.failures:
        err.print(
            f"[yellow]warning:[/] record {failure['record_id']} could not be tagged: "
            f"{failure['error']}",
            highlight=False,
            soft_wrap=True,
        )
    if summary.decisions is not None:
        dec = summary.decisions
        console.print(
            "suggested decisions: " + ", ".join(f"{k} {v}" for k, v in sorted(dec.items()))
        )


#: Where the real-abstract gold sets' folders are (run from the repository): set 1
#: (``abstracts-gold``) and the table ``synth.tagging.abstract_gold.GOLD_SETS``.
GOLD_ROOT = Path("tests/fixtures")
#: Set 1, the real-abstract gold set `synth tag evaluate-abstracts` scores by default.
ABSTRACT_GOLD = GOLD_ROOT / "abstracts-gold"
PEER_DATA = Path("../shared/peer-data")


@tag_app.command("evaluate")
def tag_evaluate_cmd(
    db: Annotated[Path | None, typer.Option("--db", help="The review store.")] = None,
    gold: Annotated[
        Path | None, typer.Option(help="Gold labels CSV (key, facet, label) of the store.")
    ] = None,
    facet: Annotated[list[str] | None, typer.Option(help="Only these facets.")] = None,
    abstracts: Annotated[
        bool,
        typer.Option(
            "--abstracts",
            help="Score the real-abstract gold sets too (set 1: all, dev and test halves; "
            "set 2, held out; set 3; sets 4 and 5, held out; sets 6 and 7; the approach set) "
            "and print them beside the store's gold, one table.",
        ),
    ] = False,
    gold_root: Annotated[
        Path,
        typer.Option(
            help="Where the real-abstract gold sets' folders are: abstracts-gold (set 1, "
            "required with --abstracts), abstracts-gold-2 ... -7 and approach-gold (each "
            "skipped if absent)."
        ),
    ] = GOLD_ROOT,
    peer: Annotated[
        Path, typer.Option(help="Where the real-abstract gold's records are (peer-data).")
    ] = PEER_DATA,
    refiner_cv: Annotated[
        bool,
        typer.Option(
            "--refiner-cv",
            help="Cross-validate rules alone against rules + refiner on each gold set "
            "(held-out folds; the read real-abstract sets 1, 3, 6 and 7 pooled), test it "
            "trained on those read sets on the held-out sets 2, 4 and 5, and say which "
            "facets the refiner helps.",
        ),
    ] = False,
    folds: Annotated[int, typer.Option(help="Folds of --refiner-cv.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed dealing the folds of --refiner-cv.")] = 0,
) -> None:
    """Precision, recall and F1 of the tags against gold labels.

    With --db and --gold alone: per label, for the store's own gold. With --abstracts:
    the real-abstract gold sets (set 1's halves, held-out sets 2, 4 and 5, sets 3, 6 and 7)
    beside the store's gold,
    per facet. With --refiner-cv: whether the learnable layer beats the rules on held-out folds.
    """
    from synth.tagging.abstract_gold import GOLD_SETS, SET_1
    from synth.tagging.evaluate import load_gold

    with clear_errors():
        if (db is None) != (gold is None):
            raise ValueError("--db and --gold go together (the store and its gold labels)")
        if gold is not None and not gold.is_file():
            raise FileNotFoundError(f"{gold}: no such gold file")
        if gold is None and not abstracts:
            raise ValueError("nothing to score: give --db and --gold, or --abstracts")
        if abstracts and not (gold_root / SET_1 / "gold.csv").is_file():
            raise FileNotFoundError(
                f"{gold_root / SET_1}: no gold.csv there (--gold-root is the folder that "
                f"holds {SET_1}, {GOLD_SETS[0].folder} ...)"
            )
        gold_rows = load_gold(gold) if gold is not None else None
        with _open_store(db if gold_rows is not None else None) as con:
            bundled = _store_evaluation(con, gold_rows, facet) if con is not None else None
            real = None
            others: dict | None = None
            if abstracts:
                from synth.tagging.abstract_gold import (
                    side_by_side,
                    side_by_side_text,
                    tag_abstract_gold,
                )

                real = tag_abstract_gold(gold_root / SET_1, peer)
                others = {
                    one.name: tag_abstract_gold(gold_root / one.folder, peer)
                    for one in GOLD_SETS
                    if (gold_root / one.folder / "gold.csv").is_file()
                } or None
                skipped = [one.folder for one in GOLD_SETS if one.name not in (others or {})]
                if skipped:
                    console.print(f"skipped (no gold.csv under {gold_root}): {', '.join(skipped)}")
                table = side_by_side(
                    real,
                    bundled,
                    bundled_name=gold.parent.name if gold else "",
                    others=others,
                )
                console.print(side_by_side_text(table, with_caveat=bundled is not None),
                              highlight=False, soft_wrap=True)  # fmt: skip
            elif bundled is not None:
                console.print(bundled.to_text(), highlight=False, soft_wrap=True)
            if refiner_cv:
                store_name = db.name if db is not None else ""
                read, unread = _refiner_gold_sets(real, others)
                text = _refiner_cv_text(read, unread, con, store_name, gold_rows, folds, seed)
                console.print(text, highlight=False, soft_wrap=True)


@contextmanager
def _open_store(db: Path | None):  # type: ignore[no-untyped-def]
    """The store at ``db`` opened once for every report of a command (None: no store)."""
    if db is None:
        yield None
        return
    from synth.store import connect

    con = connect(db)
    try:
        yield con
    finally:
        con.close()


def _store_evaluation(con, gold: pd.DataFrame, facets: list[str] | None):  # type: ignore[no-untyped-def]
    """The store's tags as reviewers see them (rules, refiner, overrides) against its gold."""
    from synth.store import load_records
    from synth.store.tags import current_tags
    from synth.tagging.evaluate import evaluate

    tags, records = current_tags(con), load_records(con)
    return evaluate(tags, gold, records=records, facets=facets)


def _refiner_gold_sets(real, others):  # type: ignore[no-untyped-def]
    """The read real-abstract sets pooled (set 1 and every set of ``GOLD_SETS`` not held
    out that labels set 1's facets; the refiner's folds are dealt over them) and the
    held-out sets pooled (it is trained on the first and tested on these), each with its
    name, or None where no such set was scored."""
    from synth.tagging.abstract_gold import GOLD_SETS, combined

    if real is None:
        return None, None
    held = {one.name for one in GOLD_SETS if one.held_out}
    found = {"set 1": real, **(others or {})}
    found = {n: g for n, g in found.items() if g.facets == real.facets}

    def pooled(names: list[str]):  # type: ignore[no-untyped-def]
        sets = {n: found[n] for n in names}
        if not sets:
            return None
        one = next(iter(sets.values())) if len(sets) == 1 else combined(sets)
        return one, f"real abstracts ({', '.join(sets)})"

    return pooled([n for n in found if n not in held]), pooled([n for n in found if n in held])


def _refiner_cv_text(  # type: ignore[no-untyped-def]
    read, unread, con, name: str, gold: pd.DataFrame | None, k: int, seed: int
) -> str:
    """The refiner's cross-validation on the read real-abstract sets (``read``: the tagged
    sets pooled and their name, when scored), the refiner trained on them and tested on
    the held-out sets (``unread``, likewise), and the store's gold (when given: ``con``
    the open store, ``name`` its file's)."""
    from synth.tagging.refiner_cv import (
        cross_validate_real,
        cross_validate_store,
        to_text,
        train_test_real,
    )

    results = []
    if read is not None:
        results.append(cross_validate_real(read[0], k=k, seed=seed, name=read[1]))
        if unread is not None:
            results.append(
                train_test_real(read[0], unread[0], name=unread[1],
                                about=f"trained on {read[1]}")
            )  # fmt: skip
    if con is not None and gold is not None:
        results.append(cross_validate_store(con, gold, name=name, k=k, seed=seed))
    return to_text(results)


@tag_app.command("evaluate-abstracts")
def tag_evaluate_abstracts_cmd(
    gold_dir: Annotated[
        list[Path] | None,
        typer.Option(
            help="The real-abstract gold set (gold.csv and its guideline); given several "
            "times, the sets pooled as one, summary figures only (e.g. the held-out sets 2, 4 "
            "and 5)."
        ),
    ] = None,
    peer: Annotated[
        Path, typer.Option(help="Where the gold's records are (the peer-data folder).")
    ] = PEER_DATA,
    split: Annotated[
        str,
        typer.Option(
            help="all, dev (odd ids) or test (even ids); set 1's halves (both read for "
            "errors by now); sets 2, 4 and 5 (--gold-dir tests/fixtures/abstracts-gold-2, "
            "-4, -5) are held out whole: read only their summary."
        ),
    ] = "all",
    by_source: Annotated[
        bool,
        typer.Option(
            "--by-source",
            help="Only the summary per source (Nagtegaal's health services, Cohen's drug "
            "trials, ...): summary figures, so fit for a held-out set.",
        ),
    ] = False,
    bootstrap: Annotated[
        int,
        typer.Option(
            help="Only the summary figures, each with its 95% interval over this many "
            "bootstrap samples of the records (1000 is usual; 0: none): how far a figure "
            "could move on another sample of the same kind. Fit for a held-out set."
        ),
    ] = 0,
    seed: Annotated[int, typer.Option(help="Seed of --bootstrap's samples.")] = 0,
    codebook: Annotated[
        Path | None,
        typer.Option(help="Tag with this codebook instead of the package's."),
    ] = None,
    baseline_codebook: Annotated[
        Path | None,
        typer.Option(
            help="Also tag with this codebook and print, per summary figure, baseline, new "
            "(--codebook, default the package's) and their difference; with --bootstrap, the "
            "difference's 95% interval over the same resampled records for both (paired). "
            "Summary figures only, so fit for held-out sets; needs --gold-dir."
        ),
    ] = None,
) -> None:
    """Per label and confusion tables on a real-abstract gold set (or one half of it).

    `synth tag evaluate --abstracts` prints every half's summary beside the store's gold.
    """
    from synth.tagging.abstract_gold import combined, tag_abstract_gold
    from synth.tagging.codebook import load_codebook

    with clear_errors():
        folders = gold_dir or [ABSTRACT_GOLD]
        for folder in folders:
            if not (folder / "gold.csv").is_file():
                raise FileNotFoundError(f"{folder}: no gold.csv there")
        if len({folder.resolve() for folder in folders}) < len(folders):
            raise ValueError("--gold-dir: the same gold set given twice")
        if bootstrap < 0:
            raise ValueError(f"--bootstrap: a number of samples, 0 or more (got {bootstrap})")
        if bootstrap and by_source:
            raise ValueError("--bootstrap and --by-source: one at a time")
        if baseline_codebook is not None and not gold_dir:
            raise ValueError("--baseline-codebook: name the gold set(s) to compare on (--gold-dir)")
        if baseline_codebook is not None and by_source:
            raise ValueError("--baseline-codebook and --by-source: one at a time")
        cb = load_codebook(codebook) if codebook is not None else None
        base_cb = load_codebook(baseline_codebook) if baseline_codebook is not None else None
        names = [folder.name for folder in folders]
        if len(set(names)) < len(names):  # folders of one name: told apart by their paths
            names = [str(folder) for folder in folders]
        sets = {
            name: tag_abstract_gold(folder, peer, split=split, codebook=cb)
            for name, folder in zip(names, folders, strict=True)
        }
        tagged = next(iter(sets.values())) if len(sets) == 1 else combined(sets)
        if len(sets) > 1:
            console.print(
                f"Pooled: {', '.join(sets)} ({tagged.gold['gold_id'].nunique()} records)",
                highlight=False,
            )
        if base_cb is not None:
            text = _codebook_difference_text(
                tagged, tagged.retagged(base_cb), bootstrap, seed, baseline_codebook, codebook
            )
        elif bootstrap:
            table = tagged.bootstrap(bootstrap, seed=seed)
            text = table.to_string(index=False, float_format=lambda x: f"{x:.3f}") + (
                f"\n\n95% percentile intervals over {bootstrap} bootstrap samples of the "
                f"records (seed {seed}): how far each figure could move on another sample "
                "of as many abstracts of this kind (samples: those defining the figure)."
            )
        elif by_source:
            from synth.tagging.abstract_gold import FEW_RECORDS

            table = tagged.by_source()
            text = table.to_string(index=False, float_format=lambda x: f"{x:.3f}")
            few = table.loc[table["records"] < FEW_RECORDS, "source"].tolist()
            if few:
                text += (
                    f"\n\nFewer than {FEW_RECORDS} records, figures that say little: "
                    + ", ".join(few)
                )
        elif len(sets) > 1:  # pooled sets (the held-out ones, say): their summary only
            text = (
                tagged.score(split)
                .summary()
                .to_string(index=False, float_format=lambda x: f"{x:.3f}", na_rep="")
            )
        else:
            text = tagged.score(split).to_text()
        console.print(text, highlight=False, soft_wrap=True)


def _codebook_difference_text(  # type: ignore[no-untyped-def]
    new, baseline, bootstrap: int, seed: int, base_path: Path, new_path: Path | None
) -> str:
    """``evaluate-abstracts --baseline-codebook``: the paired comparison as text."""
    table = new.bootstrap_difference(baseline, bootstrap, seed=seed)
    changed = new.changed_records(baseline)
    text = table.to_string(index=False, float_format=lambda x: f"{x:.3f}", na_rep="")
    new_name = new_path or "the package's codebook"
    lines = [
        f"Baseline codebook: {base_path}; new: {new_name}",
        "",
        text,
        "",
        "Records whose labels changed: "
        + ", ".join(f"{facet} {n}" for facet, n in changed.items())
        + f" (of {new.gold['gold_id'].nunique()})",
    ]
    if bootstrap:
        lines += [
            "",
            f"difference = new - baseline; low, high: its 95% percentile interval over "
            f"{bootstrap} bootstrap samples of the records (seed {seed}), each sample the "
            "same records for both codebooks (paired).",
        ]
    return "\n".join(lines)


@tag_app.command("describe")
def tag_describe_cmd(
    db: DbOption,
    review: Annotated[
        Path | None, typer.Option(help="review.yml (default: beside the imported files).")
    ] = None,
    every_record: Annotated[
        bool,
        typer.Option("--all", help="Describe every unique record, not only the included ones."),
    ] = False,
) -> None:
    """The corpus description regenerated from the tags, beside the review's own figures.

    Once the store holds screening decisions it describes the included papers (full-text
    includes, else title/abstract includes), as the review describes its included set.
    Without a review.yml it describes the corpus alone and says what a review.yml adds.
    """
    from synth.review import NO_REVIEW_NOTE, find_review, review_for
    from synth.store import connect, load_records
    from synth.store.tags import current_tags
    from synth.tagging.describe import describe_corpus, format_description

    with clear_errors():
        if review is not None and not review.is_file():
            raise FileNotFoundError(f"{review}: no such review file")
        con = connect(db)
        review_path = review or find_review(con)
        if review_path is None:
            console.print(NO_REVIEW_NOTE, highlight=False, soft_wrap=True)
        records = load_records(con, with_groups=True)
        if not every_record:
            records, note = _included_records(con, records)
            if note:
                console.print(note, highlight=False)
        tags = current_tags(con)
        tags = tags[tags["record_id"].isin(set(records["record_id"]))]
        description = describe_corpus(records, tags, review_for(review_path).raw)
        con.close()
        console.print(format_description(description), highlight=False, soft_wrap=True)


def _included_records(con: object, records: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """The records of included papers (every member of their duplicate groups) and a note."""
    from synth.report.overview import included_ids

    ids, stage = included_ids(con, "full_text")  # type: ignore[arg-type]
    if ids is None:
        return records, None
    kept = records[records["is_kept"].fillna(True).astype(bool)]
    kept_of = dict(zip(kept["group_id"], kept["record_id"], strict=False))
    paper = records["group_id"].map(kept_of).fillna(records["record_id"])
    chosen = records[paper.isin(ids)]
    n = int(chosen["is_kept"].fillna(True).astype(bool).sum())
    note = f"describing the {n} papers included at {stage.replace('_', '-')} (--all: every record)"
    return chosen, note


@tag_app.command("override")
def tag_override_cmd(
    record_id: Annotated[str, typer.Argument(help="The record.")],
    facet: Annotated[str, typer.Argument(help="setting, approach, design, country, ...")],
    label: Annotated[str, typer.Argument(help="The label.")],
    db: DbOption,
    verdict: Annotated[str, typer.Option(help="confirm, reject or set.")],
    reviewer: Annotated[str, typer.Option(help="Who decides.")],
    note: Annotated[str | None, typer.Option(help="Why.")] = None,
) -> None:
    """Confirm, reject or set a tag: an event that re-tagging never overwrites."""
    from synth.store import connect
    from synth.store.tags import add_override

    with clear_errors():
        con = connect(db)
        add_override(con, record_id, facet, label, verdict, reviewer=reviewer, note=note)
        con.close()
        console.print(f"{verdict}: {record_id} {facet}={label} by {reviewer}")


@export_app.command("tags")
def export_tags_cmd(
    db: DbOption,
    out: Annotated[Path, typer.Option("--out", help="Output CSV.")],
) -> None:
    """Tags with score, evidence and source (rule, model or reviewer) as CSV."""
    from synth.exporting import export_tags
    from synth.store import connect

    with clear_errors():
        con = connect(db)
        n = export_tags(con, out)
        con.close()
        console.print(f"wrote {n} tags to {out}")


@export_app.command("themes")
def export_themes_cmd(
    db: DbOption,
    out: Annotated[Path, typer.Option("--out", help="Output CSV.")],
    themes: Annotated[
        Path | None, typer.Option("--themes", help="Theme codebook YAML (default: synth's own).")
    ] = None,
    all_records: Annotated[
        bool, typer.Option("--all", help="Every unique record, not only the included papers.")
    ] = False,
) -> None:
    """Theme assignments of the included papers as CSV: record, theme, passage, source
    (extract, abstract, full text), section/page when known, score, method and cue."""
    from synth.store import connect
    from synth.themes.export import export_themes

    with clear_errors():  # a bad codebook is a ThemeCodebookError (a ValueError)
        con = connect(db)
        try:
            n = export_themes(con, out, codebook_path=themes, included_only=not all_records)
        finally:
            con.close()
        console.print(f"wrote {n} theme assignments to {out}")


@export_app.command("criteria")
def export_criteria_cmd(
    db: DbOption,
    out: Annotated[Path, typer.Option("--out", help="Output CSV.")],
) -> None:
    """The latest tagging run's criteria assessment as CSV: one row per record and
    criterion with its verdict (met, not_met, unclear), how it was judged (method: cues,
    similarity when the review gives the criterion no cues, year), score and evidence,
    beside the record's suggested decision and its reason."""
    from synth.corpus.writers.csv import write_table
    from synth.exporting import criteria_table
    from synth.store import connect
    from synth.store.tags import latest_run

    with clear_errors():
        con = connect(db)
        try:
            run_id = latest_run(con)
            table = criteria_table(con, run_id)
        finally:
            con.close()
        if run_id is None:
            raise ValueError(f"{db}: no finished tagging run; run `synth tag --db {db}` first")
        if table.empty:
            raise ValueError(
                f"{db}: tagging run {run_id} assessed no criteria (it found no review.yml); "
                f"tag again with `synth tag --db {db} --review review.yml`"
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        write_table(table, out)
        console.print(
            f"wrote {len(table)} assessments ({table['record_id'].nunique()} records × "
            f"{table['criterion'].nunique()} criteria) of tagging run {run_id} to {out}"
        )


TableOut = Annotated[Path, typer.Option("--out", help="Output file: .csv, .xlsx or .docx")]


def _export_table(
    db: Path, out: Path, build: Callable[[Any], pd.DataFrame], title: str, rows: str
) -> None:
    """Build a manuscript table from the store and write it by ``out``'s suffix
    (:mod:`synth.extraction.tables`); the suffix and the store are checked first."""
    from synth.extraction.tables import check_table_path, write_table
    from synth.store import connect

    with clear_errors():  # a bad form is a FormError (a ValueError)
        check_table_path(out)
        if not db.is_file():
            raise FileNotFoundError(f"{db}: no such review store; import records into it first")
        con = connect(db)
        try:
            table = build(con)
        finally:
            con.close()
        write_table(table, out, title=title)
        console.print(f"wrote {len(table)} {rows} to {out}")


@export_app.command("extraction")
def export_extraction_cmd(
    db: DbOption,
    out: TableOut,
    form: Annotated[
        str | None,
        typer.Option("--form", help="Extraction form: a YAML file or a packaged form's name."),
    ] = None,
) -> None:
    """Characteristics of the included studies: one row per paper (citation, link) with
    the form's key fields, as agreed, settled or entered; conflicts shown as such."""
    from synth.extraction.forms import load_form
    from synth.extraction.tables import characteristics_table

    _export_table(
        db, out, lambda con: characteristics_table(con, load_form(form) if form else None),
        "Characteristics of included studies", "papers",
    )  # fmt: skip


@export_app.command("appraisal")
def export_appraisal_cmd(
    db: DbOption,
    out: TableOut,
    form: Annotated[
        str | None,
        typer.Option("--form", help="Only this appraisal tool (a YAML file or packaged name)."),
    ] = None,
) -> None:
    """The appraisal of the included studies: paper, tool, each item's judgement and the
    overall one; a paper nobody has appraised says so."""
    from synth.extraction.forms import load_form
    from synth.extraction.tables import appraisal_table

    def build(con: Any) -> pd.DataFrame:
        tool = load_form(form) if form else None
        if tool is not None and tool.kind != "appraisal":
            raise ValueError(f"{form}: is an {tool.kind} form, not an appraisal tool")
        return appraisal_table(con, {tool.id: tool} if tool else None)

    _export_table(db, out, build, "Appraisal of included studies", "rows")


@export_app.command("findings")
def export_findings_cmd(
    db: DbOption,
    out: TableOut,
    themes: Annotated[
        Path | None, typer.Option("--themes", help="Theme codebook YAML (default: synth's own).")
    ] = None,
    review: Annotated[
        Path | None,
        typer.Option("--review", help="review.yml (default: the one beside the imported files)."),
    ] = None,
) -> None:
    """The summary of findings (GRADE-CERQual): each theme's finding, its papers, the four
    components and the overall confidence with why (a reviewer's judgement marked *)."""
    from synth.extraction.tables import findings_table

    _export_table(
        db, out, lambda con: findings_table(con, themes=themes, review=review),
        "Summary of findings", "findings",
    )  # fmt: skip


@export_app.command("fulltexts")
def export_fulltexts_cmd(
    db: DbOption,
    out: Annotated[Path, typer.Option("--out", help="Output CSV.")],
) -> None:
    """The PDFs and their links as CSV: file, record_id, title, DOI, year, pages,
    characters, abstract, the link's rule and score, and the reviewer who set it."""
    from synth.exporting import export_fulltexts
    from synth.store import connect

    with clear_errors():
        if not db.is_file():
            raise FileNotFoundError(f"{db}: no such review store; import records into it first")
        con = connect(db)
        try:
            n = export_fulltexts(con, out)
        finally:
            con.close()
        console.print(f"wrote {n} PDFs to {out}")


@app.command("version")
def version_cmd() -> None:
    """Print synth's version."""
    console.print(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
