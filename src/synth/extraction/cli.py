"""``synth extract``: data extraction and appraisal commands (wired into ``synth``'s CLI).

``synth extract open --db FILE --reviewer NAME [--form F] [--findings]`` gives the reviewer
their own copy of the extraction notebook beside the store and starts JupyterLab on it, as
``synth screen open`` does for screening (``--findings``: with the findings panel, where
the GRADE-CERQual judgements ``synth extract judge`` records are confirmed or changed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

extract_app = typer.Typer(
    help="Extract data from and appraise the included papers.", no_args_is_help=True
)


@extract_app.callback()
def _extract() -> None:
    """Extract data from and appraise the included papers in JupyterLab."""


@extract_app.command("open")
def open_cmd(
    db: Annotated[Path, typer.Option("--db", help="The review store (a SQLite file).")],
    reviewer: Annotated[str, typer.Option(help="Your name: values are recorded under it.")],
    form: Annotated[
        str | None,
        typer.Option(
            help="Extraction form: a YAML file or a packaged form's name "
            "(default: the co-production form)."
        ),
    ] = None,
    extractors: Annotated[
        int | None,
        typer.Option(help="2 when every paper is extracted by two reviewers (default 1)."),
    ] = None,
    findings: Annotated[
        bool,
        typer.Option(
            "--findings",
            help="Also show the findings panel: confirm or change each finding's "
            "GRADE-CERQual judgement.",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace your existing copy with a fresh one.")
    ] = False,
    browser: Annotated[bool, typer.Option(help="Open a browser tab (JupyterLab's own).")] = True,
    print_only: Annotated[
        bool, typer.Option("--print-only", help="Write the notebook, print the command, stop.")
    ] = False,
) -> None:
    """Extract and appraise in JupyterLab: your own copy of the extraction notebook."""

    from synth.cli import clear_errors
    from synth.extraction.forms import FormError, load_form
    from synth.extraction.notebook import write_extraction_notebook
    from synth.screening.notebook import announce_and_open
    from synth.store import connect

    console = Console(width=None if Console().is_terminal else 120)
    if extractors is not None and extractors not in (1, 2):
        raise typer.BadParameter("1 or 2 (double extraction)", param_hint="--extractors")
    if not db.is_file():
        console.print(
            f"[red]{db}: no review store there; import a corpus first, e.g. "
            "`synth review run --corpus DIR --db FILE`[/red]"
        )
        raise typer.Exit(2)
    if form is not None:
        try:
            chosen = load_form(form)  # a bad form is an error now, not in the lab
        except (FormError, OSError, ValueError) as exc:
            console.print(f"[red]{exc}[/red]", highlight=False)
            raise typer.Exit(2) from None
        if chosen.kind != "extraction":
            console.print(
                f"[red]{form}: --form takes an extraction form; {chosen.id!r} is an "
                f"appraisal tool (chosen per paper by its design)[/red]",
                highlight=False,
            )
            raise typer.Exit(2)
    with clear_errors():
        connect(db).close()  # a file that is not a review store is an error now, not in the lab
        made = write_extraction_notebook(
            db, reviewer, form=form, extractors=extractors, findings=findings or None,
            force=force,
        )  # fmt: skip
    code = announce_and_open(
        made, console.print, what="extraction", saved="values",
        instruction="In JupyterLab: Run > Run All Cells. Each field is saved in the store at once.",
        browser=browser, print_only=print_only,
    )  # fmt: skip
    if print_only:
        return
    raise typer.Exit(code)


@extract_app.command("judge")
def judge_cmd(
    db: Annotated[Path, typer.Option("--db", help="The review store (a SQLite file).")],
    finding: Annotated[str, typer.Option(help="The finding: its theme id (finding_id).")],
    component: Annotated[
        str,
        typer.Option(
            help="methodological_limitations, coherence, adequacy, relevance, or overall."
        ),
    ],
    level: Annotated[
        str,
        typer.Option(
            help="A component's concern (no or very minor concerns, minor concerns, moderate "
            "concerns, serious concerns), overall's confidence (high, moderate, low, very "
            "low), or 'clear' to let the suggestion stand again."
        ),
    ],
    reviewer: Annotated[str, typer.Option(help="Your name: the judgement is recorded under it.")],
    note: Annotated[str, typer.Option(help="Why (shown in the summary of findings).")] = "",
    themes: Annotated[
        Path | None, typer.Option(help="The theme codebook (default: synth's own).")
    ] = None,
) -> None:
    """Confirm or change a GRADE-CERQual judgement of a finding (an append-only event).

    The summary of findings (`synth export findings`, the synthesis page) shows it, marked
    with *, in place of synth's suggestion; `--level clear` withdraws it.
    """
    from synth.cli import clear_errors
    from synth.extraction.cerqual import record_judgement
    from synth.store import connect
    from synth.themes.codebook import load_theme_codebook

    console = Console(width=None if Console().is_terminal else 120)
    with clear_errors():
        if not db.is_file():
            raise FileNotFoundError(f"{db}: no review store there")
        known = [t.id for t in load_theme_codebook(themes).themes]
        if finding not in known:
            raise ValueError(f"finding {finding!r}: not a theme id ({', '.join(known)})")
        con = connect(db)
        try:
            chosen = None if level.strip().lower() == "clear" else level.strip()
            event = record_judgement(con, finding, component, chosen, reviewer, note)
        finally:
            con.close()
    said = "withdrawn" if chosen is None else f"= {chosen}"
    console.print(f"judgement saved (event #{event}): {finding} {component} {said}")
