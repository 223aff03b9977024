import pandas as pd

from synth.corpus.citation import citations, short_citation


def test_one_two_and_many_authors():
    assert short_citation({"authors": ["Bate, Paul"], "year": 2006}) == "Bate 2006"
    two = {"authors": ["Bate, P.", "Robert, G."], "year": 2006}
    assert short_citation(two) == "Bate and Robert 2006"
    many = {"authors": ["Bombard, Y.", "Baker, G. R.", "Orlando, E."], "year": 2018}
    assert short_citation(many) == "Bombard et al. 2018"


def test_organisation_author_and_missing_year():
    assert short_citation({"authors": ["Care Quality Commission"], "year": None}) == (
        "Care Quality Commission n.d."
    )
    assert short_citation({"authors": [], "year": pd.NA, "publisher": "Nesta"}) == "Nesta n.d."
    assert short_citation({"title": "A very long title " * 5, "year": 2010}).endswith("… 2010")


def test_clashing_citations_get_letters():
    records = pd.DataFrame(
        {
            "record_id": ["a", "b", "c"],
            "authors": [["Spencer, M."], ["Spencer, Mike"], ["Robert, G."]],
            "year": [2013, 2013, 2022],
        }
    )
    got = citations(records)
    assert got.to_dict() == {"a": "Spencer 2013a", "b": "Spencer 2013b", "c": "Robert 2022"}
