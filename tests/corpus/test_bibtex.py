"""BibTeX reader: one small test per concern, on inline BibTeX."""

from __future__ import annotations

import pytest

from synth.corpus import read_file
from synth.corpus.model import ReadError
from synth.corpus.readers import text_reader
from synth.corpus.readers._latex import decode_latex, decode_verbatim
from synth.corpus.readers.bibtex import parse, parse_bibtex, parse_names


def one(text: str) -> dict:
    parsed = parse(text, "t.bib")
    assert len(parsed.records) == 1, (parsed.records, parsed.failures)
    return parsed.records[0]


def warnings_of(record: dict) -> list[str]:
    return record.get("extra", {}).get("_warnings", [])


def test_registry_finds_the_reader():
    assert text_reader("bibtex") is parse


def test_string_macros_and_concatenation():
    rec = one(
        """
@string{int = "International"}
@String {myconf = "My " # int # " Conference"}
@STRING(first = {John})
@string{last = "Doe"}
@string{oakland = {Proceedings of the {IEEE} Symposium}}
@inproceedings{k,
  author = first # " " # LAST,
  title = oakland,
  booktitle = myconf,
  note = "Email: " # first # "." # last # "@example.com",
  year = 2014,
}"""
    )
    assert rec["authors"] == ["Doe, John"]
    assert rec["title"] == "Proceedings of the IEEE Symposium"
    assert rec["venue"] == "My International Conference"
    assert rec["extra"]["note"] == "Email: John.Doe@example.com"
    assert rec["year"] == "2014"
    assert not warnings_of(rec)


def test_month_macros_and_their_redefinition():
    assert one("@article{a, title={T}, month = jan}")["extra"]["month"] == "January"
    assert one('@article{a, title={T}, month = "jan"}')["extra"]["month"] == "jan"
    rec = one('@string{jan = {Jan.}}\n@article{a, title={T}, month = jan # "~1st"}')
    assert rec["extra"]["month"] == "Jan. 1st"


def test_undefined_macro_is_kept_as_text_with_a_warning():
    rec = one("@article{a, title={T}, journal = jomch}")
    assert rec["venue"] == "jomch"
    assert "undefined @string macro 'jomch'" in warnings_of(rec)[0]


@pytest.mark.parametrize(
    ("latex", "text"),
    [
        (r"M{\"u}ller and {\"O}zge", "Müller and Özge"),
        (r"\'e \'{e} {\'e} \`a \^o \~n \=a \.z", "é é é à ô ñ ā ż"),
        (r"{\c c} \c{C}etinkaya \v{s} \u{g} \H{o} \k{a} \r{a}", "ç Çetinkaya š ğ ő ą å"),
        (r"Garc{\'\i}a Aks{\i}n", "García Aksın"),
        (r"{\ss} {\o} {\AA}ngstr{\"o}m \ae{} \OE", "ß ø Ångström æ Œ"),
        (
            r"Co-production \& the {NHS}: 50\% of \#1 \$5 \_x",
            "Co-production & the NHS: 50% of #1 $5 _x",
        ),
        (r"{DNA} and {{RNA}} \{set\}", "DNA and RNA {set}"),
        (r"1990--2018 --- a ``core'' idea", "1990–2018 — a “core” idea"),
        (r"Donald~E. Knuth", "Donald E. Knuth"),
        (r"\emph{Italic}, {\em old} \textbf{bold} \textsc{sc}", "Italic, old bold sc"),
        (r"$\beta$-blockers and CO$_2$", "β-blockers and CO2"),
        (r"{\noopsort{a}}Zeta \href{http://x.org}{Link}", "Zeta Link"),
        ("two\n   lines", "two lines"),
    ],
)
def test_latex_decoding(latex, text):
    assert decode_latex(latex) == text


def test_accents_decoded_in_every_field():
    rec = one(
        r"""@article{a, title = {{\"U}bersicht}, journal = {Soci{\'e}t{\'e}},
        publisher = {Sch{\"o}ningh}, keywords = {{\'e}tude; sant{\'e}}, note = {na{\"\i}ve}}"""
    )
    assert rec["title"] == "Übersicht"
    assert rec["venue"] == "Société"
    assert rec["publisher"] == "Schöningh"
    assert rec["keywords"] == ["étude", "santé"]
    assert rec["extra"]["note"] == "naïve"


def test_urls_and_dois_are_verbatim():
    rec = one(
        r"""@misc{a, title={T}, url = {\url{http://x.edu/~user/a--b\_c%20d}},
        doi = {10.1000/ABC\_1--2}}"""
    )
    assert rec["url"] == "http://x.edu/~user/a--b_c%20d"
    assert rec["doi"] == "10.1000/ABC_1--2"
    assert decode_verbatim(r"{https://doi.org/10.1/x}") == "https://doi.org/10.1/x"


def test_howpublished_url_only_when_it_is_a_link():
    linked = one(r"@misc{a, title={T}, howpublished = {\url{https://www.who.int/x}}}")
    assert linked["url"] == "https://www.who.int/x"
    plain = one("@misc{a, title={T}, howpublished = {Report to the board}}")
    assert "url" not in plain
    assert plain["extra"]["howpublished"] == "Report to the board"


def test_comments_are_skipped():
    parsed = parse(
        """% a line comment @article{fake, title={no}}
@comment{an explicit comment with {braces}}
@Comment{jabref-meta: databaseType:bibtex;}
Free text between entries is a comment too.
@article{a, title = {One}}
% @article{commented, title={out}}
@article{b, title = {Two}}
""",
        "t.bib",
    )
    assert [r["title"] for r in parsed.records] == ["One", "Two"]
    assert not parsed.failures
    assert parsed.database == "JabRef"


def test_preamble_is_not_a_record():
    parsed = parse(
        '@preamble{ "\\makeatletter" }\n@preamble{"\\newcommand{\\noopsort}[1]{}"}\n'
        "@article{a, title = {{\\noopsort{b}}Title}}",
        "t.bib",
    )
    assert [r["title"] for r in parsed.records] == ["Title"]
    assert not parsed.failures


def test_crossref_chain_inherits_fields():
    parsed = parse(
        """@inproceedings{paper, author = {Smith, Ann}, title = {A paper}, crossref = {proc},
  pages = {1--10}}
@proceedings{proc, title = {Proceedings of X}, crossref = {series}, editor = {Jane Doe},
  year = 2020}
@book{series, title = {Series}, publisher = {ACM}, address = {New York}}
""",
        "t.bib",
    )
    paper, proc, _ = parsed.records
    assert paper["venue"] == "Proceedings of X"  # the parent's title becomes the booktitle
    assert paper["year"] == "2020"
    assert paper["publisher"] == "ACM"  # inherited through the chain
    assert paper["extra"]["editor"] == "Doe, Jane"
    assert paper["extra"]["address"] == "New York"
    assert paper["title"] == "A paper"
    assert proc["publisher"] == "ACM"
    assert not any(warnings_of(r) for r in parsed.records)


def test_crossref_child_keeps_its_own_fields():
    rec = parse(
        "@inproceedings{c, title={T}, booktitle={Own}, year=2001, crossref={p}}\n"
        "@proceedings{p, title={Parent}, booktitle={Other}, year=1999, publisher={P}}",
        "t.bib",
    ).records[0]
    assert (rec["venue"], rec["year"], rec["publisher"]) == ("Own", "2001", "P")


def test_crossref_cycle_is_reported_not_followed():
    parsed = parse(
        "@book{circ1, date = {1911}, crossref = {circ2}}\n"
        "@book{circ2, date = {1912}, crossref = {circ1}, publisher = {P}}",
        "t.bib",
    )
    first, second = parsed.records
    assert "publisher" not in first
    for rec in parsed.records:
        assert any("crossref cycle circ1 -> circ2 -> circ1" in w for w in warnings_of(rec))
    assert (first["year"], second["year"]) == ("1911", "1912")


def test_crossref_missing_target_is_reported():
    rec = one("@inbook{mcr, title = {Lumbering Lunatics}, crossref = {missing1}}")
    assert rec["title"] == "Lumbering Lunatics"
    assert warnings_of(rec) == ["crossref target 'missing1' not found; nothing inherited"]


def test_crossref_by_alias_and_case():
    parsed = parse(
        "@book{Parent, ids = {p-alias}, title = {Book}, publisher = {Pub}, year = 1990}\n"
        "@inbook{a, title = {Chapter A}, crossref = {p-alias}}\n"
        "@inbook{b, title = {Chapter B}, crossref = {PARENT}}",
        "t.bib",
    )
    assert [r.get("venue") for r in parsed.records[1:]] == ["Book", "Book"]
    assert [r.get("publisher") for r in parsed.records[1:]] == ["Pub", "Pub"]


def test_duplicate_keys_keep_both_records():
    parsed = parse(
        "@article{smith2020, title = {First}}\n@article{smith2020, title = {Second}}\n"
        "@article{Smith2020, title = {Third}}",
        "t.bib",
    )
    assert [r["title"] for r in parsed.records] == ["First", "Second", "Third"]
    assert not warnings_of(parsed.records[0])
    assert warnings_of(parsed.records[1]) == [
        "duplicate key 'smith2020': also used by the entry at line 1 (both entries kept)"
    ]
    assert "duplicate key 'Smith2020'" in warnings_of(parsed.records[2])[0]


def test_field_given_twice_keeps_the_first():
    rec = one("@article{a, title = {First}, title = {Second}}")
    assert rec["title"] == "First"
    assert "field 'title' is given twice" in warnings_of(rec)[0]
    assert "Second" in warnings_of(rec)[0]


def test_unbalanced_braces_do_not_take_the_next_entry_down():
    parsed = parse(
        """@article{broken,
  title = {Unbalanced {braces},
  year = 2000,
}
@article{good, title = {Good}, year = 2001}
""",
        "t.bib",
    )
    assert [r["source_key"] for r in parsed.records] == ["good"]
    assert parsed.records[0]["position"] == 2
    assert parsed.records[0]["line"] == 5
    (failure,) = parsed.failures
    assert (failure.line, failure.record) == (1, 1)
    assert failure.reason.startswith("record 1 (line 1): a field value is not closed")
    assert "Unbalanced {braces}" in failure.raw and "@article{good" not in failure.raw


def test_unclosed_last_entry_is_a_failure():
    parsed = parse("@article{a, title = {A}}\n@article{b, title = {never closed\n", "t.bib")
    assert [r["source_key"] for r in parsed.records] == ["a"]
    assert "not closed before the end of the file" in parsed.failures[0].reason


def test_missing_comma_after_key_is_a_failure_and_the_rest_loads():
    parsed = parse("@article{nocomma\n  title = {x},\n}\n@article{next, title = {Next}}", "t.bib")
    assert [r["source_key"] for r in parsed.records] == ["next"]
    assert parsed.records[0]["position"] == 2
    assert "no comma after the entry key" in parsed.failures[0].reason


def test_missing_comma_between_fields_is_repaired_with_a_warning():
    rec = one("@article{a,\n  title = {A title}\n  author = {Doe, Jane},\n  year = 2000\n}")
    assert rec["title"] == "A title"
    assert rec["authors"] == ["Doe, Jane"]
    assert rec["year"] == "2000"
    assert "a comma is missing after field 'title'" in warnings_of(rec)[0]


def test_trailing_comma_and_parentheses_and_comma_first_styles():
    parsed = parse(
        "@article(a, title = {Paren},)\n"
        "@article{b\n  , title = {Comma first}\n  , year = 2013\n}\n",
        "t.bib",
    )
    assert [r["title"] for r in parsed.records] == ["Paren", "Comma first"]


def test_empty_file():
    parsed = parse("  \n", "t.bib")
    assert parsed.records == []
    assert [f.reason for f in parsed.failures] == ["file is empty"]


def test_file_with_only_strings_and_comments():
    parsed = parse("@string{a = {b}}\n% nothing else\n", "t.bib")
    assert parsed.records == []
    assert "no BibTeX entries found" in parsed.failures[0].reason


def test_entry_with_no_title_still_loads():
    rec = one("@misc{notitle, author = {Doe, Jane}, year = {2019}}")
    assert "title" not in rec
    assert rec["source_key"] == "notitle"
    assert rec["authors"] == ["Doe, Jane"]


def test_field_mapping_to_canonical_keys():
    rec = one(
        r"""@techreport{who21,
  author = {{World Health Organization}},
  title = {Guidance},
  institution = {World Health Organization},
  series = {Technical Series},
  number = {12},
  volume = {3},
  pages = {12 -- 23},
  doi = {https://doi.org/10.1000/XYZ},
  pmid = {31234567},
  abstract = {An abstract.},
  language = {French},
  note = {A note},
  isbn = {978-92-4-000000-0},
  Custom-Field = {kept},
}"""
    )
    assert rec["pub_type_raw"] == "techreport"
    assert rec["source_key"] == "who21"
    assert rec["publisher"] == "World Health Organization"
    assert rec["venue"] == "Technical Series"
    assert (rec["volume"], rec["issue"], rec["pages"]) == ("3", "12", "12-23")
    assert rec["doi"] == "https://doi.org/10.1000/XYZ"  # normalise_doi cleans it later
    assert rec["pmid"] == "31234567"
    assert rec["abstract"] == "An abstract."
    assert rec["language"] == "French"
    assert rec["extra"] == {"note": "A note", "isbn": "978-92-4-000000-0", "custom-field": "kept"}


def test_lower_ranked_candidates_go_to_extra():
    rec = one("@incollection{a, title={T}, booktitle={Book}, series={Series}, date={2020-05-01}}")
    assert rec["venue"] == "Book"
    assert rec["extra"]["series"] == "Series"
    assert rec["year"] == "2020-05-01"  # normalise_year takes 2020
    assert rec["extra"]["date"] == "2020-05-01"


def test_pmid_from_eprint():
    rec = one("@article{a, title={T}, eprint = {12345678}, eprinttype = {pubmed}}")
    assert rec["pmid"] == "12345678"


@pytest.mark.parametrize(
    ("authors", "names", "et_al"),
    [
        ("Doe, Jane and John Smith", ["Doe, Jane", "Smith, John"], False),
        (
            "Bird, R.B. and Armstrong, R.C. AND Hassager, O.",
            ["Bird, R.B.", "Armstrong, R.C.", "Hassager, O."],
            False,
        ),
        (
            "{World Health Organization} and {Barnes and Noble}",
            ["World Health Organization", "Barnes and Noble"],
            False,
        ),
        (
            "Jean de La Fontaine and van Beethoven, Ludwig",
            ["de La Fontaine, Jean", "van Beethoven, Ludwig"],
            False,
        ),
        ("Smith, Jr, John", ["Smith, John, Jr"], False),
        (r"J{\"o}rg M{\"u}ller and {\'E}mile Zola", ["Müller, Jörg", "Zola, Émile"], False),
        ("Doe, Jane and others", ["Doe, Jane"], True),
        ("Aristotle", ["Aristotle"], False),
        ("Smith, J.; Doe, A.", ["Smith, J.", "Doe, A."], False),
        ("Donald~E. Knuth", ["Knuth, Donald E."], False),
    ],
)
def test_author_names(authors, names, et_al):
    assert parse_names(authors) == (names, et_al)


def test_others_is_a_flag_not_an_author():
    rec = one("@article{a, title={T}, author = {Doe, Jane and others}}")
    assert rec["authors"] == ["Doe, Jane"]
    assert rec["extra"]["_et_al"] is True


@pytest.mark.parametrize(
    ("keywords", "expected"),
    [
        ("co-production, PPI , health", ["co-production", "PPI", "health"]),
        ("health services, UK; co-design", ["health services, UK", "co-design"]),
        ("single", ["single"]),
    ],
)
def test_keywords_split(keywords, expected):
    assert one(f"@article{{a, title={{T}}, keywords = {{{keywords}}}}}")["keywords"] == expected


def test_grey_flag_as_our_writer_writes_it():
    assert one("@misc{a, title={T}, grey = {true}}")["grey"] is True
    assert one("@phdthesis{a, title={T}, grey = {false}}")["grey"] is False
    assert "grey" not in one("@misc{a, title={T}}")


def test_unusual_entry_type_is_kept():
    rec = one("@mastersthesis{a, title={T}, school={S}}")
    assert rec["pub_type_raw"] == "mastersthesis"
    assert rec["publisher"] == "S"
    assert rec["extra"]["_entry_type"] == "mastersthesis"


def test_lines_and_positions():
    parsed = parse(
        "% header\n\n@article{a, title={A}}\n@string{x = {y}}\n\n@book{b,\n  title={B}}\n",
        "t.bib",
    )
    assert [(r["position"], r["line"]) for r in parsed.records] == [(1, 3), (2, 6)]


def test_stray_fields_after_an_extra_brace_are_flagged():
    rec = parse("@article{a, title={A}}, author = {Lost, Author}}\n", "t.bib").records[0]
    assert "looks like more fields" in warnings_of(rec)[0]


def test_crlf_and_cr_line_ends():
    text = (
        "% Encoding: UTF-16BE\r@article{k,\r  title = {Ü ist ein Umlaut},\r}\r\n@book{b, title={B}}"
    )
    parsed = parse(text, "t.bib")
    assert [(r["title"], r["line"]) for r in parsed.records] == [("Ü ist ein Umlaut", 2), ("B", 5)]


def test_nul_characters_are_a_clear_read_error():
    with pytest.raises(ReadError, match="NUL characters"):
        parse("@\x00a\x00r\x00t\x00i\x00c\x00l\x00e\x00{", "t.bib")


def _many_entries(n: int) -> str:
    """A file big enough for several chunks, with everything that crosses chunk borders."""
    parts = ["@string{hexp = {Health Expectations}}\n% synthetic\n"]
    for i in range(n):
        if i == 7:
            parts.append("@article{broken, title = {never {closed},\n}\n")
        parts.append(
            f'@article{{key{i % (n - 5)},\n  author = {{M{{\\"u}}ller, J. and Doe, Jane}},\n'
            f"  title = {{Entry {i} on {{DNA}}}},\n  journal = hexp,\n  year = {1990 + i % 30},\n"
            f"  month = {['jan', 'feb'][i % 2]},\n"
            + ("  crossref = {proc},\n" if i == 5 else "")
            + "}\n\n"
        )
    parts.append("@proceedings{proc, title = {Late Proceedings}, publisher = {ACM}}\n")
    return "".join(parts)


def test_parallel_reading_matches_in_process_reading():
    text = _many_entries(2600)
    serial = parse_bibtex(text, "big.bib", workers=1)
    parallel = parse_bibtex(text, "big.bib", workers=2)
    assert parallel.records == serial.records
    assert parallel.failures == serial.failures
    assert len(serial.records) == 2601 and len(serial.failures) == 1
    assert serial.failures[0].record == 8
    crossref_child = serial.records[5]
    assert crossref_child["position"] == 6
    assert crossref_child["venue"] == "Health Expectations"  # journal outranks booktitle
    assert crossref_child["publisher"] == "ACM"  # inherited from an entry at the very end
    assert serial.records[-2]["authors"] == ["Müller, J.", "Doe, Jane"]
    duplicated = [r for r in serial.records if warnings_of(r)]
    assert len(duplicated) == 5  # key0..key4 come back at the end of the file


def test_read_file_normalises_the_records(fixtures):
    result = read_file(fixtures / "bibtex" / "roundtrip.bib")
    assert result.format == "bibtex"
    assert result.failures.empty
    rec = result.records.set_index("source_key").loc["Mueller2019"]
    assert rec["title"] == "Co-production & the NHS: 50% of DNA-based {set} studies #1"
    assert rec["authors"][:2] == ["Müller, Jörg", "García, María José"]
    assert rec["doi"] == "10.1111/hex.12345"
    assert rec["year"] == 2019
    assert rec["pub_type"] == "journal-article"
    grey = result.records.set_index("source_key")["grey"]
    assert grey["who2021guide"] and grey["lee2018"] and not grey["Mueller2019"]


def test_parallel_reading_with_threads_running_uses_a_fork_server():
    """In a Jupyter kernel other threads run, so workers must not be forked directly."""
    import threading

    from synth.parallel import mp_context

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        assert mp_context().get_start_method() in {"forkserver", "spawn"}
        text = _many_entries(40)
        parsed = parse_bibtex(text, "t.bib", workers=2)
    finally:
        stop.set()
        thread.join()
    assert parsed.records == parse_bibtex(text, "t.bib", workers=1).records
    assert len(parsed.records) == 41


def test_no_worker_processes_falls_back_to_in_process(monkeypatch, caplog):
    from synth import parallel

    def refuse(*args, **kwargs):
        raise OSError("no processes in this sandbox")

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", refuse)
    text = _many_entries(30)
    parsed = parse_bibtex(text, "t.bib", workers=2)
    assert parsed.records == parse_bibtex(text, "t.bib", workers=1).records
    assert "reading in-process" in caplog.text
