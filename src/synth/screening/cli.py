"""``synth screen``: screening commands for the command line (wired into ``synth``'s CLI).

``synth screen open --db FILE --reviewer NAME`` gives the reviewer their own copy of the
screening notebook beside the store and starts JupyterLab on it;
``synth screen simulate DATASET.csv`` replays a labelled screening set in the order our
model would show it and prints WSS@95, recall@10 % and the records needed to find every
include; ``synth screen status`` shows PRISMA counts, agreement and open conflicts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

screen_app = typer.Typer(
    help="Screen titles and abstracts; simulate prioritisation.", no_args_is_help=True
)


@screen_app.callback()
def _screen() -> None:
    """Screen titles and abstracts; simulate prioritisation on labelled sets."""


def _console() -> Console:
    # piped output (CI logs) gets a readable width instead of rich's 80 columns
    return Console(width=None if Console().is_terminal else 120)


@screen_app.command("simulate")
def simulate_cmd(
    dataset: Annotated[
        Path, typer.Argument(help="Labelled set: CSV/TSV/XLSX/RIS with an inclusion label.")
    ],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model preset (see data/screening.yml).")
    ] = "default",
    seed: Annotated[int, typer.Option(help="Seed of the priors and the model.")] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Write the full result (order, metrics) as JSON.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write the recall curve as an HTML file.")
    ] = None,
    n_prior_included: Annotated[int, typer.Option(help="Random prior includes.")] = 1,
    n_prior_excluded: Annotated[int, typer.Option(help="Random prior excludes.")] = 1,
    retrain_every: Annotated[str, typer.Option(help="Refit after N decisions, or 'auto'.")] = "1",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Replay DATASET's labels in the model's order and report how early the includes came."""
    from synth.corpus.model import ReadError
    from synth.corpus.reading import read_file
    from synth.screening.learner import settings_for
    from synth.screening.simulate import simulate

    console = _console()
    try:
        settings = settings_for(model, seed=seed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--model") from exc
    every: int | str = retrain_every
    if retrain_every != "auto":
        try:
            every = int(retrain_every)
        except ValueError as exc:
            raise typer.BadParameter(
                "a whole number or 'auto'", param_hint="--retrain-every"
            ) from exc
    try:
        records = read_file(dataset).records
    except ReadError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    labels = records["label_included"]
    if labels.notna().sum() == 0:
        console.print(
            f"[red]{dataset.name}: no inclusion label column (label_included, included, "
            "final_included, label, ...) or no labels in it[/red]"
        )
        raise typer.Exit(2)
    n_inc = int(labels.fillna(0).sum())
    n = int(labels.notna().sum())
    from synth.progress import progress_bar

    # the project's one kind of bar, on stderr: click's bar wrote its label to stdout as a
    # stray "includes found" line before the table whenever output was not a terminal
    with progress_bar(
        total=max(0, n_inc - n_prior_included), desc="includes found", disable=not progress
    ) as bar:
        state = {"found": n_prior_included}

        def tick(screened: int, found: int) -> None:
            if found > state["found"]:
                bar.update(found - state["found"])
                state["found"] = found

        try:
            result = simulate(
                records,
                settings,
                n_prior_included=n_prior_included,
                n_prior_excluded=n_prior_excluded,
                seed=seed,
                retrain_every=every,
                dataset=dataset.name,
                progress=tick,
            )
        except ValueError as exc:
            console.print(f"[red]{dataset.name}: {exc}[/red]")
            raise typer.Exit(2) from exc
    m = result.metrics
    # the title on its own line: as the table's title rich wraps it to the table's width
    console.print(
        f"{dataset.name}: {n} records, {n_inc} includes; model {model}, seed {seed}",
        style="italic",
        highlight=False,
    )
    table = Table()
    for col in ("WSS@95", "recall@10%", "records to find all includes", "refits", "seconds"):
        table.add_column(col, justify="right")
    table.add_row(
        f"{m['wss@95']:.3f}",
        f"{m['recall@10%']:.3f}",
        f"{m['n_to_last_include']}",
        f"{result.n_refits}",
        f"{result.seconds:.1f}",
    )
    console.print(table)
    console.print(
        f"(metrics over the {m['n_records']} records after the {len(result.priors)} priors)"
    )
    if out is not None:
        out.write_text(result.to_json(indent=1), encoding="utf-8")
        console.print(f"wrote {out}")
    if plot is not None:
        result.figure().write_html(plot, include_plotlyjs=True)
        console.print(f"wrote {plot}")


@screen_app.command("open")
def open_cmd(
    db: Annotated[Path, typer.Option("--db", help="The review store (a SQLite file).")],
    reviewer: Annotated[str, typer.Option(help="Your name: decisions are recorded under it.")],
    stage: Annotated[str, typer.Option(help="title_abstract or full_text.")] = "title_abstract",
    mode: Annotated[
        str | None, typer.Option(help="single or dual (blinded); default: the review's.")
    ] = None,
    tag: Annotated[str | None, typer.Option(help="Only records with this tag.")] = None,
    year_min: Annotated[int | None, typer.Option(help="Only records from this year on.")] = None,
    year_max: Annotated[int | None, typer.Option(help="Only records up to this year.")] = None,
    search: Annotated[str | None, typer.Option(help="Only records containing this text.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace your existing copy with a fresh one.")
    ] = False,
    browser: Annotated[bool, typer.Option(help="Open a browser tab (JupyterLab's own).")] = True,
    print_only: Annotated[
        bool, typer.Option("--print-only", help="Write the notebook, print the command, stop.")
    ] = False,
) -> None:
    """Screen in JupyterLab: your own copy of the screening notebook, beside the store."""

    from synth.cli import clear_errors
    from synth.screening.decisions import STAGES
    from synth.screening.notebook import announce_and_open, write_screening_notebook
    from synth.screening.queue import MODES
    from synth.store import connect

    console = _console()
    if not db.is_file():
        console.print(
            f"[red]{db}: no review store there; import a corpus first, e.g. "
            "`synth review run --corpus DIR --db FILE`[/red]"
        )
        raise typer.Exit(2)
    if stage not in STAGES:
        raise typer.BadParameter(f"choose one of {', '.join(STAGES)}", param_hint="--stage")
    if mode is not None and mode not in MODES:
        raise typer.BadParameter(f"choose one of {', '.join(MODES)}", param_hint="--mode")
    with clear_errors():
        connect(db).close()  # a file that is not a review store is an error now, not in the lab
        made = write_screening_notebook(
            db, reviewer, force=force, stage=stage, mode=mode, tag=tag,
            year_min=year_min, year_max=year_max, search=search,
        )  # fmt: skip
    code = announce_and_open(
        made, console.print, what="screening", saved="decisions",
        instruction="In JupyterLab: Run > Run All Cells, click the Keys box once, then type "
        "i, e, e2, m, b, u or s and Enter. Each decision is saved in the store at once.",
        browser=browser, print_only=print_only,
    )  # fmt: skip
    if print_only:
        return
    raise typer.Exit(code)


@screen_app.command("status")
def status_cmd(
    db: Annotated[Path, typer.Option("--db", help="The review store (a SQLite file).")],
) -> None:
    """Where screening stands: PRISMA counts, agreement between reviewers, open conflicts."""
    from synth.cli import clear_errors

    console = _console()
    if not db.is_file():
        console.print(f"[red]{db}: no such review store[/red]")
        raise typer.Exit(2)
    with clear_errors():
        _status(console, db)


def _decisions_table(con: object) -> Table:
    """Each reviewer's standing decisions per stage: a reviewer checks their own work here."""
    from synth.screening.decisions import STAGES, current_decisions

    table = Table(title="standing decisions by reviewer")
    for name in ("stage", "reviewer", "decisions", "include", "exclude", "maybe"):
        table.add_column(name, justify="left" if name in ("stage", "reviewer") else "right")
    for stage in STAGES:
        current = current_decisions(con, stage=stage)  # type: ignore[arg-type]
        for reviewer, mine in current.groupby("reviewer", sort=True):
            counts = mine["decision"].value_counts()
            table.add_row(
                stage, str(reviewer), str(len(mine)),
                *(str(int(counts.get(d, 0))) for d in ("include", "exclude", "maybe")),
            )  # fmt: skip
    if not table.row_count:
        table.add_row("-", "no decisions yet", "0", "0", "0", "0")
    return table


def _status(console: Console, db: Path) -> None:
    from synth.screening.decisions import STAGES
    from synth.screening.prisma import prisma_counts, say
    from synth.screening.queue import screening_settings
    from synth.screening.reviewers import agreement, conflicts, missing_second_screening
    from synth.store import connect

    con = connect(db)
    try:
        dual = screening_settings(con, save=False)["mode"] == "dual"
        counts = prisma_counts(con)
        table = Table(title=f"PRISMA 2020 counts from {db.name}")
        table.add_column("step")
        table.add_column("records", justify="right")
        for source, n in sorted(counts.identified_by_source.items()):
            table.add_row(f"identified: {source}", str(n))
        for source, n in sorted(counts.identified_other_methods.items()):
            table.add_row(f"identified (other methods): {source}", str(n))
        table.add_row("identified: total", say(counts.identified))
        for source, n in sorted(counts.included_list.items()):  # the review's included studies
            table.add_row(f"included list (not identified): {source}", str(n))
        for source, n in sorted(counts.not_identified.items()):
            table.add_row(f"not identified (background): {source}", str(n))

        def excluded(reasons: dict[str, int] | None) -> int | None:
            return None if reasons is None else sum(reasons.values())

        rows = [
            ("duplicates removed", counts.duplicates_removed),
            ("could not be read", counts.read_failures),
            ("screened (title/abstract)", counts.screened),
            ("excluded at screening", excluded(counts.excluded_screening)),
            ("awaiting screening", counts.awaiting_screening),
            ("full texts assessed", counts.assessed_full_text),
            ("excluded at full text", excluded(counts.excluded_full_text)),
            ("awaiting full-text assessment", counts.awaiting_full_text),
            ("included", counts.included),
        ]
        for step, n in rows:
            table.add_row(step, say(n))
        console.print(table)
        for stage in counts.notes.get("stages_without_decisions", []):
            console.print(f"{stage}: no decisions recorded yet", highlight=False)
        console.print(_decisions_table(con))
        for stage in STAGES:
            agree = agreement(con, stage=stage)
            for row in agree.itertuples(index=False):
                console.print(
                    f"{stage}: {row.reviewer_a} vs {row.reviewer_b} on {row.n_both} records: "
                    f"agreement {row.percent_agreement:.0%}, kappa {row.kappa:.2f}",
                    highlight=False,
                )
            open_conflicts = conflicts(con, stage=stage)
            line = f"{stage}: {len(open_conflicts)} open conflicts"
            if dual:  # only a review screened in dual mode asks for a second screening
                missing = missing_second_screening(con, stage=stage)
                line += f", {len(missing)} records without a second screening"
            console.print(line, highlight=False)
        if not dual:
            console.print(
                "single screening: one decision per record, no second screening asked for "
                "(open the app with mode dual for blinded double screening)",
                highlight=False,
            )
    finally:
        con.close()
