"""``synth review run``: the whole review, from corpus folder to HTML report, in one call.

Stages: import the corpus into the store, tag it, execute the report notebooks with
papermill (parameters injected), render each as an HTML page without code, and write the
shared ``plotly.min.js``, the self-contained ``evidence-map.html``, the PRISMA flow
(``prisma.svg``), ``index.html`` and ``manifest.json``.

Run configuration (``--config FILE``, or the ``report:`` section of a corpus's
``review.yml``); every key is optional, paths are relative to the file that names them::

    report:
      corpus: .                   # the corpus folder (default: the config file's folder)
      review: review.yml          # the review definition (default: <corpus>/review.yml)
      db: ../../data/kei.sqlite   # the store (default: data/<review name>.sqlite)
      out: ../../data/reports/kei # the report folder (default: data/reports/<review name>)
      title: My review            # default: the review's title
      codebook: codebook.yml      # the tagger's codebook (default: synth's own)
      themes: themes.yml          # the theme codebook (default: synth's own)
      extraction_form: form.yml   # the extraction form (default: synth's co-production form)
      notebooks: [01_corpus_overview, 04_evidence_map]   # default: every report notebook
      workers: 2                  # notebooks run at a time
      cluster: local:2            # import, deduplicate and tag on Dask (or scheduler:
                                  # tcp://HOST:8786, an existing cluster); default one machine
      filters:
        stage: full_text          # decisions that define "included"
        included_only: true
        year_min: 2008
        year_max: 2020
        settings: [acute-care]    # setting labels to keep

A config file that is not a review definition can hold just the ``report:`` keys (or
the same keys at its top level).

The review name is the review.yml's ``id`` (else ``name`` or ``slug``), else the corpus
folder's name; each review gets its own store and report folder, so one review's run
never overwrites another's. A run writes its pages into a folder beside the report
(``.<name>.partial-<pid>-<random>``) that replaces the report only once every notebook ran: a
failed run leaves the last good report in place and its own pages in ``<name>.failed``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from synth import __version__
from synth.parallel import pid_alive
from synth.report import manifest as mf
from synth.report import pages
from synth.report.figures import check_figures
from synth.report.notebooks import NotebookResult, execute_all, find_notebooks, render_body
from synth.review import Review, load_review, review_for

log = logging.getLogger(__name__)

FILTER_KEYS = ("stage", "included_only", "year_min", "year_max", "settings")
DEFAULT_FILTERS: dict[str, Any] = {
    "stage": "full_text",
    "included_only": True,
    "year_min": None,
    "year_max": None,
    "settings": [],
}
CONFIG_KEYS = {
    "corpus", "review", "db", "out", "title", "codebook", "themes", "notebooks", "workers",
    "filters", "extraction_form", "cluster", "scheduler",
}  # fmt: skip
EVIDENCE_MAP = "evidence-map.html"
#: Where reports go: one folder per review inside it.
DEFAULT_OUT = Path("data/reports")
MANIFEST = "manifest.json"
#: Keys of a review definition that name the review (first found wins).
NAME_KEYS = ("id", "name", "slug")


class ReviewRunError(RuntimeError):
    """A notebook failed; the last good report is left in place (the message says where
    the failed run's pages are)."""


@dataclass
class RunConfig:
    """Where a run reads and writes, and the filters every notebook applies."""

    corpus: Path
    db: Path
    out: Path
    review: Path | None = None
    title: str | None = None
    codebook: Path | None = None
    themes: Path | None = None
    #: the review's own extraction form (page 06; default the packaged co-production form)
    extraction_form: Path | None = None
    notebooks: list[str] | None = None
    workers: int | None = None
    filters: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_FILTERS))
    config_file: Path | None = None
    name: str = ""
    #: import, deduplicate and tag on Dask (synth.distributed): a LocalCluster started
    #: here (``local`` or ``local:N``) or an existing cluster's scheduler (tcp://HOST:PORT)
    cluster: str | None = None
    scheduler: str | None = None


@dataclass
class RunResult:
    """What a run produced: the index, every page, and the time each stage took."""

    out: Path
    index: Path
    manifest: Path
    pages: dict[str, Path]
    notebooks: list[NotebookResult]
    evidence_map: Path | None
    prisma: dict[str, Path]
    timings: dict[str, float]
    sizes: dict[str, int]
    db: Path
    totals: dict[str, int] = field(default_factory=dict)
    review: Path | None = None

    @property
    def kernel_seconds(self) -> float:
        return sum(r.kernel_seconds or 0.0 for r in self.notebooks)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the run configuration ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping")
    return data


def _section(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """The run keys of a config file: its ``report:`` section, else its top-level run keys."""
    if isinstance(data.get("report"), dict):
        section = data["report"]
    elif "inclusion_criteria" in data:  # a review definition without a report section
        section = {}
    else:
        section = {k: v for k, v in data.items() if k in CONFIG_KEYS}
    unknown = set(section) - CONFIG_KEYS
    if unknown:
        raise ValueError(
            f"{path}: unknown run key(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(CONFIG_KEYS))}"
        )
    filters = section.get("filters") or {}
    if not isinstance(filters, dict) or set(filters) - set(FILTER_KEYS):
        raise ValueError(f"{path}: filters take {', '.join(FILTER_KEYS)}")
    return section


def _review_section(path: Path) -> dict[str, Any]:
    """The run keys of a review definition: its ``report:`` section (checked on load)."""
    return _section({"report": load_review(path).report}, path)


def resolve_config(
    *,
    corpus: Path | None = None,
    config: Path | None = None,
    out: Path | None = None,
    db: Path | None = None,
    notebooks: Sequence[str] | None = None,
    cluster: str | None = None,
    scheduler: str | None = None,
) -> RunConfig:
    """Combine the arguments with the config file (arguments win) into a :class:`RunConfig`.

    ``corpus`` alone reads ``corpus/review.yml``'s ``report:`` section when present.
    """
    section: dict[str, Any] = {}
    base = Path.cwd()
    config_file = None
    if config is not None:
        config = Path(config)
        if not config.is_file():
            raise FileNotFoundError(f"{config}: no such config file")
        config_file = config.resolve()
        data = _read_yaml(config)
        is_review = "inclusion_criteria" in data  # a review definition: synth.review reads it
        section = _review_section(config) if is_review else _section(data, config)
        base = config_file.parent
        if corpus is None:
            corpus = base / section["corpus"] if "corpus" in section else base
        if "inclusion_criteria" in data and "review" not in section:
            section["review"] = config_file.name
    elif corpus is not None and (Path(corpus) / "review.yml").is_file():
        review_yml = Path(corpus) / "review.yml"
        section = _review_section(review_yml)
        base = Path(corpus).resolve()
        config_file = review_yml.resolve()
    if corpus is None:
        raise ValueError("give a corpus folder (--corpus) or a run configuration (--config)")
    corpus = Path(corpus).resolve()
    if not corpus.is_dir():
        raise FileNotFoundError(f"{corpus}: no such corpus folder")

    def rel(key: str) -> Path | None:
        value = section.get(key)
        return (base / str(value)).resolve() if value not in (None, "") else None

    review = rel("review") or (corpus / "review.yml")
    review_file = review if review.is_file() else None
    name = review_name(review_file, corpus)
    filters = dict(DEFAULT_FILTERS)
    filters.update(section.get("filters") or {})
    filters["settings"] = list(filters.get("settings") or [])
    return RunConfig(
        corpus=corpus,
        db=Path(db) if db is not None else rel("db") or Path("data") / f"{name}.sqlite",
        out=Path(out) if out is not None else rel("out") or DEFAULT_OUT / name,
        review=review_file,
        title=section.get("title"),
        codebook=rel("codebook"),
        themes=rel("themes"),
        extraction_form=rel("extraction_form"),
        notebooks=list(notebooks) if notebooks is not None else section.get("notebooks"),
        workers=int(section["workers"]) if section.get("workers") else None,
        filters=filters,
        config_file=config_file,
        name=name,
        **_cluster_keys(section, cluster, scheduler, config_file),
    )


def _cluster_keys(
    section: dict[str, Any],
    cluster: str | None,
    scheduler: str | None,
    config_file: Path | None,
) -> dict[str, str | None]:
    """``cluster`` and ``scheduler`` from the arguments, else the config (checked here,
    so a bad value names the file); an argument given for either replaces both of the
    config's (they are exclusive)."""
    if cluster is not None or scheduler is not None:
        return {"cluster": cluster, "scheduler": scheduler}
    keys = {
        key: str(section[key]) if section.get(key) not in (None, "") else None
        for key in ("cluster", "scheduler")
    }
    if keys["cluster"] is None and keys["scheduler"] is None:
        return keys
    from synth.distributed.cluster import ClusterError, local_workers, scheduler_address

    try:
        if keys["cluster"] is not None and keys["scheduler"] is not None:
            raise ClusterError("give cluster: or scheduler:, not both")
        if keys["cluster"] is not None:
            local_workers(keys["cluster"])
        else:
            scheduler_address(str(keys["scheduler"]))
    except ClusterError as exc:
        raise ValueError(f"{config_file}: {exc}") from None
    return keys


def review_name(review: Path | None, corpus: Path) -> str:
    """The review's name for its store and report folder: the review.yml's ``id`` (else
    ``name``/``slug``), else the corpus folder's name; only letters, digits, ``.``, ``_``
    and ``-`` (anything else becomes ``-``)."""
    named = None
    if review is not None:
        data = load_review(review).raw
        named = next((data[k] for k in NAME_KEYS if data.get(k) not in (None, "")), None)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", str(named or corpus.name)).strip("-.")
    return slug or "review"


class _Stages:
    """Times each stage and shows one line per stage on stderr (when ``progress``)."""

    def __init__(self, progress: bool) -> None:
        self.timings: dict[str, float] = {}
        self.console = None
        if progress:
            from rich.console import Console

            self.console = Console(stderr=True)

    @contextmanager
    def stage(self, name: str, what: str) -> Iterator[None]:
        if self.console is not None:
            self.console.print(f"[bold]{what}[/] ...", highlight=False)
        start = time.perf_counter()
        yield
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start
        if self.console is not None:
            self.console.print(f"  {what}: {self.timings[name]:.1f} s", highlight=False)

    def note(self, text: str) -> None:
        if self.console is not None:
            self.console.print(f"  {text}", highlight=False, markup=False)


def run_review(
    *,
    corpus: Path | None = None,
    config: Path | None = None,
    out: Path | None = None,
    db: Path | None = None,
    progress: bool = True,
    notebooks: Sequence[str] | None = None,
    workers: int | None = None,
    retag: bool = True,
    cluster: str | None = None,
    scheduler: str | None = None,
) -> RunResult:
    """Run the review on a corpus and write its HTML report.

    Parameters
    ----------
    corpus
        The corpus folder (references, extracts, full texts, optionally review.yml).
    config
        A run configuration (see the module docstring); ``corpus`` and ``db`` override it.
    out
        The report folder (default: the config's ``out``, else
        ``data/reports/<review name>``). An existing folder there must be a report (it
        holds a ``manifest.json``) or empty: a successful run replaces it.
    db
        The review store (default ``data/<review name>.sqlite``).
    progress
        Show each stage and the import/tagging progress bars on stderr.
    notebooks
        Only these report notebooks (file stems), in this order.
    workers
        Notebooks executed at a time (default: the config's, else 2 on two or more cores).
    retag
        Tag the store again (the tagger may have changed); False reuses the latest run.
    cluster, scheduler
        Import, deduplicate and tag on Dask: a LocalCluster started here (``local:2``) or
        an existing cluster (``tcp://HOST:8786``); default the config's ``cluster`` or
        ``scheduler``, else one machine.

    Returns
    -------
    RunResult

    Raises
    ------
    ReviewRunError
        A notebook failed; the last good report is unchanged, this run's pages are kept
        in ``<report>.failed`` beside it.
    """
    cfg = resolve_config(
        corpus=corpus, config=config, out=out, db=db, notebooks=notebooks,
        cluster=cluster, scheduler=scheduler,
    )  # fmt: skip
    if workers is not None:
        cfg.workers = workers
    if cfg.workers is None:
        cfg.workers = default_workers()
    final = cfg.out.resolve()
    _check_replaceable(final)
    stages = _Stages(progress)
    cfg.db.parent.mkdir(parents=True, exist_ok=True)
    specs = find_notebooks(names=cfg.notebooks)

    review = review_for(cfg.review)  # without one, tagging says so
    title = str(cfg.title or review.title or cfg.corpus.name)
    totals = _import_and_tag(cfg, review, stages, progress=progress, retag=retag)

    staging = _staging_dir(final)
    try:
        result = _write_report(cfg, specs, staging, final, review, title, stages)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    result.totals = totals
    failed = [r.error for r in result.notebooks if r.error]
    if failed:
        kept = _keep_failed(staging, final)
        last = (
            f"the last good report in {final} is unchanged"
            if final.exists()
            else "no report was written"
        )
        raise ReviewRunError("; ".join(failed) + f" ({last}; this run's pages: {kept})")
    _replace_dir(staging, final)
    return _moved(result, staging, final)


def _import_and_tag(
    cfg: RunConfig, review: Review, stages: _Stages, *, progress: bool, retag: bool
) -> dict[str, int]:
    """Import the corpus (recording the published decisions) and tag the store, on the
    config's Dask cluster when it names one; the import's totals."""
    from synth.distributed import cluster_client
    from synth.store import connect, import_paths
    from synth.store.tags import latest_run
    from synth.tagging.workflow import tag_store

    con = connect(cfg.db)
    try:
        with cluster_client(cfg.cluster, cfg.scheduler) as client:
            with stages.stage("import", "import and deduplicate"):
                report = import_paths(con, [cfg.corpus], progress=progress, client=client)
                t = totals = report.totals
                stages.note(
                    f"{t['records']} records from {t['sources']} files, "
                    f"{t['duplicates']} duplicates, {t['failures']} failures"
                )
                if cfg.review:
                    from synth.screening.published import record_published_decisions

                    added = record_published_decisions(con, review)
                    if added:
                        stages.note(f"{added} decisions from the published review recorded")
            with stages.stage("tag", "tag and assess criteria"):
                if retag or latest_run(con) is None:
                    run = tag_store(
                        con,
                        codebook_path=cfg.codebook,
                        review_path=cfg.review,
                        progress=progress,
                        client=client,
                    )
                    stages.note(f"tagging run {run.run_id}: {run.summary.tags} tags")
                    for failure in run.failures:
                        stages.note(
                            f"record {failure['record_id']} could not be tagged: {failure['error']}"
                        )
    finally:
        con.close()
    return totals


def _write_report(
    cfg: RunConfig,
    specs: Sequence[Any],
    out_dir: Path,
    final: Path,
    review: Review,
    title: str,
    stages: _Stages,
) -> RunResult:
    """Execute the notebooks and write every page, the extras, index and manifest into
    ``out_dir`` (the staging folder of the report that will be ``final``)."""
    parameters = {
        "db": str(cfg.db.resolve()),
        "corpus": str(cfg.corpus),
        "review": str(cfg.review) if cfg.review else None,
        "themes": str(cfg.themes) if cfg.themes else None,
        # only page 06 declares it: given when the review names its own form
        **({"extraction_form": str(cfg.extraction_form)} if cfg.extraction_form else {}),
        "out_dir": str(out_dir),
        **{k: cfg.filters.get(k) for k in FILTER_KEYS},
    }
    nb_dir = out_dir / "notebooks"
    with stages.stage("notebooks", f"execute {len(specs)} notebooks"):

        def done(r: NotebookResult) -> None:
            flag = "FAILED" if r.error else "ok"
            stages.note(f"{r.spec.name}: {r.seconds:.1f} s {flag}")

        results = execute_all(
            specs, nb_dir, parameters, workers=cfg.workers or 1, on_done=done,
            expected_seconds=_last_timings(final / MANIFEST),
        )  # fmt: skip

    sizes: dict[str, int] = {}
    page_paths: dict[str, Path] = {}
    links = [pages.PageLink(s.page, s.title, s.description) for s in specs]
    footer = f"{title} · generated by synth {__version__} · manifest.json lists every input"
    with stages.stage("render", "render pages"):
        pages.write_plotly_js(out_dir)
        for r in results:
            nonce = pages.new_nonce()
            body = render_body(r.nb, nonce)
            page = pages.page_html(
                body, title=r.spec.title, review_title=title, links=links,
                current=r.spec.page, footer=footer, nonce=nonce,
            )  # fmt: skip
            path = out_dir / r.spec.page
            sizes[r.spec.page] = pages.write_page(path, page)
            page_paths[r.spec.name] = path

    evidence_map, prisma, extra_figures = None, {}, {}
    with stages.stage("extras", "evidence map file and PRISMA flow"):
        evidence_map, prisma, extra_figures = _write_extras(cfg, out_dir, title)
        if evidence_map is not None:
            sizes[EVIDENCE_MAP] = evidence_map.stat().st_size

    with stages.stage("index", "index and manifest"):
        extras = []
        if evidence_map is not None:
            about = "self-contained: plotly.js inside, opens offline, can be e-mailed"
            extras.append(pages.PageLink(EVIDENCE_MAP, "Evidence map (one file)", about))
        for kind, path in sorted(prisma.items()):
            extras.append(
                pages.PageLink(path.name, f"PRISMA flow diagram ({kind.upper()})", "for a paper")
            )
        extras.append(pages.PageLink(MANIFEST, "Manifest", "parameters, versions and input hashes"))
        extras.append(pages.PageLink("notebooks/", "Executed notebooks", "open in JupyterLab"))
        index = out_dir / "index.html"
        sizes["index.html"] = pages.write_page(
            index,
            pages.index_html(
                review_title=title, subtitle=review.raw.get("subtitle"), pages=links,
                extras=extras, footer=footer,
            ),
        )  # fmt: skip
        shown = {**page_figures(results, page_paths, out_dir), **extra_figures}
        disagree = check_figures({name: page["figures"] for name, page in shown.items()})
        for problem in disagree:
            log.warning("figures disagree: %s", problem)
            stages.note(f"figures disagree: {problem}")
        manifest_path = out_dir / MANIFEST
        mf.write_manifest(
            manifest_path,
            mf.build_manifest(
                parameters={
                    **parameters,
                    "out_dir": str(final),
                    "notebooks": [s.name for s in specs],
                    "workers": cfg.workers,
                    "config": str(cfg.config_file or ""),
                },
                inputs=_inputs(cfg, specs),
                outputs={
                    "pages": {k: str(v.relative_to(out_dir)) for k, v in page_paths.items()},
                    "sizes_bytes": sizes,
                    "summaries": {r.spec.name: r.summary for r in results},
                    "errors": {r.spec.name: r.error for r in results if r.error},
                    "figures_disagree": disagree,
                },
                timings={
                    **stages.timings,
                    **{f"notebook:{r.spec.name}": r.seconds for r in results},
                },
                pages=shown,
            ),
        )
    return RunResult(
        out=out_dir, index=index, manifest=manifest_path, pages=page_paths, notebooks=results,
        evidence_map=evidence_map, prisma=prisma, timings=stages.timings, sizes=sizes, db=cfg.db,
        review=cfg.review,
    )  # fmt: skip


def page_figures(
    results: Sequence[NotebookResult], page_paths: Mapping[str, Path], out_dir: Path
) -> dict[str, dict[str, Any]]:
    """Per page: its file and the figures it published (``figures`` in its summary; a
    page that published none has an empty record, never a guessed one)."""
    out: dict[str, dict[str, Any]] = {}
    for r in results:
        path = page_paths.get(r.spec.name)
        out[r.spec.name] = {
            "page": str(path.relative_to(out_dir)) if path is not None else None,
            "figures": dict((r.summary or {}).get("figures") or {}),
        }
    return out


# --------------------------------------------------------------------------- the report folder


def _check_replaceable(final: Path) -> None:
    """Refuse, before any work, a report folder a successful run could not replace safely:
    a file, or a folder holding something other than a previous report."""
    if final.is_file():
        raise ValueError(f"{final}: is a file, not a report folder")
    if not final.is_dir():
        return
    if any(final.iterdir()) and not (final / MANIFEST).is_file():
        raise ValueError(
            f"{final}: exists and is not a synth report (no {MANIFEST}); a run replaces its "
            "report folder whole, so choose an empty or new folder (--out)"
        )
    inner = next((d for d in final.iterdir() if (d / MANIFEST).is_file()), None)
    if inner is not None:
        raise ValueError(
            f"{final}: holds another review's report ({inner.name}); a run replaces its "
            "report folder whole, so give each review its own folder (--out)"
        )


#: How long a partial report folder whose process is not running here is left before it is
#: removed: a run in another container on the same volume has a pid this process cannot
#: see (or the same pid as a run here), and it writes its pages meanwhile.
STALE_PARTIAL_SECONDS = 3600.0


def _staging_dir(final: Path) -> Path:
    """A new folder beside ``final`` for this run's pages, named by this process and a
    random part (two runs in two containers may share a pid), so a run never empties
    another's; partial folders that killed runs left behind (their process is gone and
    nothing was written in them for :data:`STALE_PARTIAL_SECONDS`) are removed first."""
    final.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{final.name}.partial-"
    now = time.time()
    for old in final.parent.glob(f"{prefix}*"):
        pid = old.name[len(prefix) :].split("-", 1)[0]
        if (
            pid.isdigit()
            and not pid_alive(int(pid))
            and _idle_for(old, now) > STALE_PARTIAL_SECONDS
        ):
            shutil.rmtree(old, ignore_errors=True)
    staging = final.parent / f"{prefix}{os.getpid()}-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    return staging


def _idle_for(folder: Path, now: float) -> float:
    """Seconds since anything in ``folder`` (or the folder itself) was last written."""
    try:
        times = [folder.stat().st_mtime, *(p.stat().st_mtime for p in folder.rglob("*"))]
    except OSError:  # removed meanwhile, or unreadable: not ours to judge now
        return 0.0
    return now - max(times)


def _replace_dir(staging: Path, final: Path) -> None:
    """Put ``staging`` where ``final`` is (two renames in one folder; the old report is
    deleted only once the new one is in place)."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}-{uuid.uuid4().hex[:12]}")
        final.rename(old)
    staging.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _keep_failed(staging: Path, final: Path) -> Path:
    """Move a failed run's pages to ``<final>.failed`` (replacing an older failed run's)."""
    failed = final.with_name(f"{final.name}.failed")
    shutil.rmtree(failed, ignore_errors=True)
    staging.rename(failed)
    return failed


def _moved(result: RunResult, staging: Path, final: Path) -> RunResult:
    """``result`` with every path in ``staging`` pointing to the same file in ``final``."""

    def move(path: Path) -> Path:
        return final / path.relative_to(staging)

    result.out = final
    result.index = move(result.index)
    result.manifest = move(result.manifest)
    result.pages = {k: move(v) for k, v in result.pages.items()}
    result.evidence_map = move(result.evidence_map) if result.evidence_map else None
    result.prisma = {k: move(v) for k, v in result.prisma.items()}
    for r in result.notebooks:
        r.executed = move(r.executed)
    return result


def _write_extras(
    cfg: RunConfig, out_dir: Path, title: str
) -> tuple[Path | None, dict[str, Path], dict[str, dict[str, Any]]]:
    """The self-contained evidence map and the PRISMA SVG (from the same selection), and
    the figures each shows (as :func:`page_figures` records a page's)."""
    from synth.report.figures import matrix_figures, prisma_figures
    from synth.report.maps_data import evidence_matrix
    from synth.report.overview import select_records
    from synth.store import connect

    con = connect(cfg.db)
    try:
        sel = select_records(con, **{k: cfg.filters.get(k) for k in FILTER_KEYS})
        counts = None
        try:
            from synth.screening.prisma import prisma_counts

            counts = prisma_counts(con, review_for(cfg.review))  # as notebook 05 counts
        except ImportError:  # pragma: no cover - screening not installed
            log.warning("synth.screening.prisma is missing: no PRISMA diagram")
    finally:
        con.close()
    evidence_map = None
    try:
        from synth.report.standalone import write_evidence_map

        evidence_map = write_evidence_map(
            out_dir / EVIDENCE_MAP,
            sel.records,
            sel.tags,
            title=f"{title}: evidence map",
            review=review_for(cfg.review),
        )
    except ImportError:  # pragma: no cover
        log.warning("synth.report.standalone is missing: no evidence-map.html")
    prisma: dict[str, Path] = {}
    if counts is not None:
        try:
            from synth.report.prisma_figure import write_prisma

            prisma = dict(write_prisma(counts, out_dir, png=False))
        except ImportError:  # pragma: no cover
            log.warning("synth.report.prisma_figure is missing: no prisma.svg")
    figures: dict[str, dict[str, Any]] = {}
    if evidence_map is not None:
        matrix = evidence_matrix(sel.records, sel.tags, review=review_for(cfg.review))
        figures[EVIDENCE_MAP] = {"page": EVIDENCE_MAP, "figures": matrix_figures(matrix)}
    for path in prisma.values():
        figures[path.name] = {"page": path.name, "figures": prisma_figures(counts)}
    return evidence_map, prisma, figures


def _inputs(cfg: RunConfig, specs: Sequence[Any]) -> dict[str, dict[str, str]]:
    """Every file the report depends on, grouped, with its SHA-256."""
    from importlib import resources

    data = Path(str(resources.files("synth.data")))
    corpus_files = [
        p for p in sorted(cfg.corpus.rglob("*")) if p.is_file() and p.name != "review.yml"
    ]
    groups: dict[str, list[Path]] = {
        "corpus": corpus_files,
        "review": [cfg.review] if cfg.review else [],
        "codebook": [cfg.codebook or data / "codebook.yml"],
        "criteria_rules": [data / "criteria_rules.yml"],
        "themes": [cfg.themes or data / "themes.yml"],
        "rules": [p for p in sorted(data.glob("*.yml"))
                  if p.name not in {"codebook.yml", "criteria_rules.yml", "themes.yml"}],
        "notebooks": [s.path for s in specs],
    }  # fmt: skip
    if cfg.config_file and cfg.config_file != cfg.review:
        groups["config"] = [cfg.config_file]
    return mf.hash_inputs(groups, relative_to=cfg.corpus.parent)


def _last_timings(path: Path) -> dict[str, float]:
    """Each notebook's seconds in the previous run's manifest (empty if none)."""
    try:
        timings = json.loads(path.read_text("utf-8")).get("timings_seconds", {})
    except (OSError, ValueError):
        return {}
    return {k.split(":", 1)[1]: float(v) for k, v in timings.items() if k.startswith("notebook:")}


def default_workers() -> int:
    """Notebooks run at a time: two where this process may use two or more cores.

    Measured on the 2-core machine (benchmarks/bench_review_run.py): two at a time
    shortens the notebook stage, since each notebook spends part of its time starting a
    kernel and waiting on it.
    """
    from synth.parallel import default_workers as cores

    return 2 if cores() >= 2 else 1
