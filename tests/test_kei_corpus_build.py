"""The bundled corpus ``corpus/kei-2020/`` and the script that builds it from the seeds.

The committed corpus must be exactly what ``scripts/build_kei_corpus.py`` writes from
``../shared/seeds`` (so nobody edits it by hand), and it must hold facts of the review text.
The parser functions are also checked on small made-up references in each citation style.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import bibtexparser
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "build_kei_corpus.py"
CORPUS = ROOT / "corpus" / "kei-2020"
SEEDS = ROOT.parent / "shared" / "seeds"
REVIEW_SEED = SEEDS / "003_3e0243fee4a3e35d.txt"

_FRONT = re.compile(r"^---\n(.*?)\n---\n(.*?)(?=^---\n|\Z)", re.M | re.S)


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_kei_corpus", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def build() -> ModuleType:
    return _load_script()


@pytest.fixture
def seeds() -> Path:
    if not REVIEW_SEED.is_file():
        pytest.skip(f"seed texts not found at {SEEDS}")
    return SEEDS


@pytest.fixture(scope="module")
def bib() -> dict[str, dict[str, str]]:
    library = bibtexparser.parse_file(str(CORPUS / "references.bib"))
    assert library.failed_blocks == []
    return {
        e.key: {"ENTRYTYPE": e.entry_type, **{f.key: f.value for f in e.fields}}
        for e in library.entries
    }


def _documents(path: Path) -> list[tuple[dict, str]]:
    text = path.read_text(encoding="utf-8")
    return [(yaml.safe_load(m.group(1)), m.group(2)) for m in _FRONT.finditer(text)]


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# -- the build reproduces the committed corpus ------------------------------------------------


def test_build_equals_committed_corpus(seeds: Path, tmp_path: Path) -> None:
    out = tmp_path / "kei-2020"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--seeds", str(seeds), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    built = _tree(out)
    committed = _tree(CORPUS)
    assert sorted(built) == sorted(committed)
    changed = [name for name in built if built[name] != committed[name]]
    assert changed == [], f"rebuild differs from the committed corpus: {changed}"


def test_build_is_deterministic_and_reports_citations(build: ModuleType, seeds: Path) -> None:
    first, second = build.build(seeds), build.build(seeds)
    assert first.files == second.files
    assert first.unresolved == []
    # 34 citation items in the review body (counted here independently of the parser)
    body = REVIEW_SEED.read_text(encoding="utf-8").split("Links in blue can be accessed")[0]
    items = re.findall(r"[A-Za-z] (?:19|20)\d\d(?:\*?\)|\]\(#\)\)|;)", body)
    assert first.extracts == len(items) == 34


def test_reference_count_matches_the_list_in_the_seed(seeds: Path, bib: dict) -> None:
    lines = REVIEW_SEED.read_text(encoding="utf-8").split("\n")
    start = lines.index("Links in blue can be accessed via subscription or library services")
    entries = [
        ln for ln in lines[start + 1 :] if ln.strip() and ln.strip() != "References and Links"
    ]
    assert len(entries) == len(bib) == 64


# -- references.bib ------------------------------------------------------------------------


def test_bib_has_64_entries_in_list_order(bib: dict) -> None:
    assert len(bib) == 64
    assert sorted(int(e["x-kei-order"]) for e in bib.values()) == list(range(1, 65))
    assert all(re.fullmatch(r"[a-z]+(\d{4}|nd)[a-z]?", key) for key in bib)


def test_armstrong_2013(bib: dict) -> None:
    entry = bib["armstrong2013"]
    assert entry["ENTRYTYPE"] == "article"
    assert entry["doi"] == "10.1111/hex.12039"
    assert entry["journal"] == "Health Expectations"
    assert entry["author"].split(" and ") == [
        "Armstrong, N.",
        "Herbert, G.",
        "Aveling, E.-L.",
        "Dixon-Woods, M.",
        "Martin, G.",
    ]
    assert (entry["volume"], entry["pages"]) == ("16", "e36--e47")


def test_doi_recovered_from_url_encoded_scopus_link(bib: dict) -> None:
    entry = bib["bombard2018"]
    assert "doi=10.1186%2fs13012-018-0784-z" in entry["url"]
    assert entry["doi"] == "10.1186/s13012-018-0784-z"


def test_dois_from_other_link_styles(bib: dict) -> None:
    assert bib["batalden2016"]["doi"] == "10.1136/bmjqs-2015-004315"  # dx.doi.org
    assert bib["curwen2019"]["doi"] == "10.1186/s40900-019-0140-8"  # biomedcentral
    assert bib["donetto2015"]["doi"] == "10.2752/175630615X14212498964312"  # DOI: label
    assert bib["maher2009"]["doi"] == "10.12968/bjhc.2009.15.4.41719"  # doi/epdf/...
    assert "doi" not in bib["wiig2013"]  # a PMC link holds no DOI


def test_grey_literature(bib: dict) -> None:
    cqc = bib["cqc2018"]
    assert cqc["ENTRYTYPE"] != "article" and cqc["grey"] == "true"
    assert cqc["author"] == "{CQC}"
    assert bib["armstrong2013"].get("grey") is None
    assert bib["nhsi2009"]["author"] == "{NHS Institute for Innovation \\& Improvement}"


def test_ndti_2016_entries_have_distinct_keys(bib: dict) -> None:
    assert bib["ndti2016a"]["year"] == bib["ndti2016b"]["year"] == "2016"
    assert bib["ndti2016a"]["title"].startswith("Practical Guide")
    assert bib["ndti2016b"]["title"].startswith("Position Paper")
    assert bib["ndti2016a"]["author"] == "{National Development Team for Inclusion}"


def test_citation_styles_give_family_given_authors(bib: dict) -> None:
    assert bib["boyd2012"]["author"].startswith("Boyd, H. and McKernon, S.")  # Vancouver
    assert bib["marshall2019"]["author"].endswith("and Lee, Helen")  # bepress, "; and"
    assert bib["curwen2019"]["author"].endswith("and others")  # et al.
    assert bib["donetto2015"]["author"].startswith("Donetto, Sara and Pierri, Paola")


# -- extracts ----------------------------------------------------------------------------------


def test_every_extract_resolves_to_a_reference(bib: dict) -> None:
    files = sorted((CORPUS / "extracts").glob("*.md"))
    assert files
    total = 0
    for path in files:
        docs = _documents(path)
        assert docs, path.name
        for front, text in docs:
            assert set(front) == {"kind", "ref", "section"}
            assert front["ref"] in bib
            assert path.stem == front["ref"]
            assert front["kind"] in {"quote", "finding"}
            assert text.strip() and "et al 20" not in text
            total += 1
    assert total == 34


def test_one_passage_citing_two_papers_gives_two_extracts() -> None:
    passage = "No single, agreed model of co-production"
    for key in ("ndti2016a", "spencer2013"):
        texts = [t for _, t in _documents(CORPUS / "extracts" / f"{key}.md")]
        assert any(t.startswith(passage) for t in texts)


def test_bombard_extracts_sit_under_their_headings() -> None:
    docs = _documents(CORPUS / "extracts" / "bombard2018.md")
    sections = [front["section"] for front, _ in docs]
    assert "Creating the conditions for genuine co-production at point of care" in sections
    quote = [t for front, t in docs if front["kind"] == "quote"]
    assert quote and quote[0].startswith("External facilitation catalysed")


# -- review.yml and full texts --------------------------------------------------------------


def test_review_yml_criteria_and_stated_figures() -> None:
    review = yaml.safe_load((CORPUS / "review.yml").read_text(encoding="utf-8"))
    assert review["year"] == 2020 and review["month"] == 9
    assert len(review["questions"]) == 4
    assert [c["id"] for c in review["exclusion_criteria"]] == [
        "unequal-relationship",
        "individual-benefit",
        "research-only-coproduction",
    ]
    years = next(c for c in review["inclusion_criteria"] if c["id"] == "years")
    assert (years["year_min"], years["year_max"]) == (2008, 2020)
    stated = review["stated_figures"]
    assert stated["papers_included"] == 64
    assert stated["by_publication_type"] == {"grey literature": 10, "journal articles": 54}
    assert stated["by_approach"] == {"EBCD": 20, "Always Events": 4}
    assert sum(stated["by_country"].values()) == 64
    groups = {g["id"]: g for g in review["themes"]}
    assert len(groups["point-of-care-requirements"]["themes"]) == 4


def test_review_yml_states_what_the_review_reports(bib: dict) -> None:
    """The bundled definition loads through synth.review and says what the review reports:
    full-text selection only, its reference list as the identified records, the seed texts
    outside the list as background, and the individual-level approaches its exclusion
    criterion rules out."""
    from synth.review import load_review
    from synth.tagging.codebook import load_codebook

    review = load_review(CORPUS / "review.yml")
    assert review.reported_stages == ("full_text",)
    assert review.published_decisions["stages"] == ["full_text"]
    assert review.source_kind(str(CORPUS / "references.bib"), CORPUS) == "database"
    assert review.search_note and "does not report how it searched" in review.search_note
    for path in sorted((CORPUS / "fulltexts").glob("*.md")):
        kind = review.source_kind(str(path), CORPUS)
        assert kind == "background", path.name  # full texts are never identified records
        assert (path.stem in bib) == (f"fulltexts/{path.name}" not in review.sources)
    background = [g for g, kind in review.sources.items() if kind == "background"]
    assert len(background) == 3 and all(
        g.removeprefix("fulltexts/")[:-3] not in bib for g in background
    )
    approach = load_codebook().facets["approach"].labels
    assert review.out_of_scope == {
        "approach:self-management": "individual-benefit",
        "approach:shared-decision-making": "individual-benefit",
    }
    assert all(label.split(":")[1] in approach for label in review.out_of_scope)
    assert review.criterion("individual-benefit").kind == "exclusion"


def test_fulltexts_front_matter() -> None:
    docs = {p.stem: _documents(p) for p in sorted((CORPUS / "fulltexts").glob("*.md"))}
    assert sorted(docs) == ["robert2022", "spencer2013", "spencer2013a", "willsonnd"]
    for key, found in docs.items():
        assert len(found) == 1
        front, text = found[0]
        assert front["kind"] == "fulltext" and front["key"] == key
        assert front["authors"] and len(text) > 3000
        # a year only where a text or the metadata states one (Willson's short review has none)
        assert isinstance(front["year"], int) if key != "willsonnd" else "year" not in front
    willson = docs["willsonnd"][0][0]
    assert willson["authors"] == ["Willson, Alan"]
    assert willson["organisation"] == "Improvement Science Research Group, Swansea University"
    element_text = docs["robert2022"][0][1]
    assert "Published online by" not in element_text  # the download watermark is removed
    assert "\nht\ntp\n" not in element_text


# -- the parser on made-up references in each style ------------------------------------------


@pytest.mark.parametrize(
    ("raw", "authors", "year", "journal", "doi"),
    [
        (
            "Smith, A. B., Jones, C.-D. and Brown, E. (2015) 'A study of care', "
            "*Journal of Care*, 12(3), pp. 1-9. DOI: 10.1000/jc.2015.1 URL: <https://x.org/1>",
            ["Smith, A. B.", "Jones, C.-D.", "Brown, E."],
            2015,
            "Journal of Care",
            "10.1000/jc.2015.1",
        ),
        (
            "Lee K, Park JH. (2011) Co-design in clinics. *Clin J*. 2011;4(2):10–20 https://x.org/2",
            ["Lee, K.", "Park, J. H."],
            2011,
            "Clin J",
            "",
        ),
        (
            'Khan, Sara; Ode, Tim; and Roe, Dr Ann (2019) "Partners in care," '
            "*Care Journal*: Vol. 3 : Iss. 2 , Article 7 <<https://x.org/3>>",
            ["Khan, Sara", "Ode, Tim", "Roe, Ann"],
            2019,
            "Care Journal",
            "",
        ),
        (
            "Ann Roe & Tim Ode (2017) Design in services, *Design Review*, 9:1, 5-20, "
            "<https://www.scopus.com/record.uri?eid=1&doi=10.1234%2fdr.9.1&x=2>",
            ["Roe, Ann", "Ode, Tim"],
            2017,
            "Design Review",
            "10.1234/dr.9.1",
        ),
    ],
)
def test_parse_reference_styles(
    build: ModuleType, raw: str, authors: list[str], year: int, journal: str, doi: str
) -> None:
    ref = build.parse_reference(raw, 1)
    assert [a.display() for a in ref.authors] == authors
    assert (ref.year, ref.journal, ref.doi, ref.entry_type) == (year, journal, doi, "article")


def test_parse_reference_grey_report(build: ModuleType) -> None:
    ref = build.parse_reference(
        "Health Trust (2012). Working together: A toolkit. Retrieved from <https://x.org/t.pdf>",
        5,
    )
    assert ref.grey and ref.entry_type == "techreport"
    assert ref.authors[0].corporate and ref.institution == "Health Trust"
    assert ref.title == "Working together: A toolkit"
    assert ref.url == "https://x.org/t.pdf"


def test_citations_and_quotes(build: ModuleType) -> None:
    text = "Staff value it (*Smith et al 2015; Health Trust 2012*) and “it works” ([Lee 2011](#))"
    cites = build.find_citations(text)
    assert [c.label for c in cites] == ["Smith et al 2015", "Health Trust 2012", "Lee 2011"]
    assert build.split_quote("As one said, “it works”") == ("quote", "it works")
    assert build.split_quote("It works") == ("finding", "It works")
