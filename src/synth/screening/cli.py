"""``synth screen``: screening commands for the command line (wired into ``synth``'s CLI).

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


@screen_app.command("status")
def status_cmd(
    db: Annotated[Path, typer.Option("--db", help="The review store (a SQLite file).")],
) -> None:
    """Where screening stands: PRISMA counts, agreement between reviewers, open conflicts."""
    from synth.cli import _clear_errors

    console = _console()
    if not db.is_file():
        console.print(f"[red]{db}: no such review store[/red]")
        raise typer.Exit(2)
    with _clear_errors():
        _status(console, db)


def _status(console: Console, db: Path) -> None:
    from synth.screening.decisions import STAGES
    from synth.screening.prisma import prisma_counts
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
        rows = [
            ("duplicates removed", counts.duplicates_removed),
            ("screened (title/abstract)", counts.screened),
            ("excluded at screening", sum(counts.excluded_screening.values())),
            ("awaiting screening", counts.awaiting_screening),
            ("full texts assessed", counts.assessed_full_text),
            ("excluded at full text", sum(counts.excluded_full_text.values())),
            ("awaiting full-text assessment", counts.awaiting_full_text),
            ("included", counts.included),
        ]
        for step, n in rows:
            table.add_row(step, str(n))
        console.print(table)
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
