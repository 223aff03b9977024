"""Extraction forms and appraisal tools as data: YAML files in one small form language.

A form is sections of fields; each field has a type (:data:`FIELD_TYPES`), a label, help
text, a choice list for the choice types, optionally the tagger facet that pre-fills it
(with ``from_labels`` mapping the tagger's labels onto its choices) and a ``key`` flag for
the characteristics-of-included-studies table. Appraisal tools are forms of ``kind:
appraisal`` whose items are choices on a judgement scale, one section per domain, each
citing the tool it follows and saying which designs it is chosen for (``applies_to``).

The packaged forms live in ``synth/data/forms/``; a reviewer can copy one and load the copy
by path. A malformed form fails on load with a :class:`FormError` naming the file, the line
where known, the field and the problem, never later in the middle of an extraction.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from synth.datafiles import LineLoader, RuleFileBuilder, load_cached, read_yaml
from synth.tagging.codebook import default_path as codebook_path

#: The field types: free text, a number, one choice, several choices, a publication-style
#: year, and a quote with its location in the paper (``{"text": ..., "location": ...}``).
FIELD_TYPES = ("text", "number", "choice", "choices", "year", "quote")
KINDS = ("extraction", "appraisal")
#: ``applies_to`` words besides the tagger's design labels: grey literature, and any
#: design no other tool claims.
GREY = "grey"
OTHER = "other"
#: A tag suggests a value when it scores at least this.
PREFILL_MIN_SCORE = 0.5
#: Years a ``year`` field accepts.
YEAR_RANGE = (1800, 2100)

_ID_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
_TOP_KEYS = {
    "id",
    "title",
    "kind",
    "version",
    "description",
    "citation",
    "applies_to",
    "scale",
    "sections",
}
_SECTION_KEYS = {"section", "help", "fields", "optional"}
_FIELD_KEYS = {"id", "label", "type", "help", "choices", "facet", "from_labels", "key"}
_QUOTE_KEYS = {"text", "location"}
#: Types a facet can pre-fill (a tag is a label and a sentence, never a number).
_PREFILLED_TYPES = ("text", "choice", "choices", "quote")


class FormError(ValueError):
    """A form that cannot be used; the message names the file, line, field and problem."""


@dataclass(frozen=True)
class Field:
    """One item of a form: what the reviewer records, and what may pre-fill it."""

    id: str
    section: str
    label: str
    type: str
    help: str = ""
    #: the list a choice/choices value comes from (appraisal items: the judgement scale)
    choices: tuple[str, ...] = ()
    #: the tagger facet that pre-fills the field (setting, country, design, approach, ...)
    facet: str | None = None
    #: shown in the characteristics-of-included-studies table
    key: bool = False
    #: (tagger label, value) pairs: what each label of ``facet`` fills in; a label that is
    #: itself one of the choices needs no entry
    from_labels: tuple[tuple[str, str], ...] = ()

    def check(self, value: Any) -> str | None:
        """None when ``value`` fits this field (None, cleared, always fits), else the
        problem in words, so a stored value that no longer fits an edited form is flagged
        with a reason rather than dropped."""
        if value is None:
            return None
        return _CHECKS[self.type](self, value)

    def suggestion(self, label: str) -> str | None:
        """The value the tagger's ``label`` fills in, or None when it fills in nothing."""
        mapped = dict(self.from_labels).get(label)
        if mapped is not None:
            return mapped
        if self.type in ("choice", "choices"):
            return label if label in self.choices else None
        return label


@dataclass(frozen=True)
class Form:
    """A validated form. ``sha256`` is the hash of the file's bytes, so values can say which
    version of a form they were recorded against."""

    id: str
    title: str
    kind: str
    fields: dict[str, Field]
    sections: tuple[str, ...]
    path: Path | None
    sha256: str
    #: appraisal tools: the tool followed (its items are in our own words)
    citation: str = ""
    #: appraisal tools: the designs it is chosen for; ``grey`` for grey literature,
    #: ``other`` for any design no other tool claims
    applies_to: tuple[str, ...] = ()
    version: str = ""
    description: str = ""
    #: section -> its help text (what to appraise it for, when to skip it)
    section_help: dict[str, str] = dataclass_field(default_factory=dict)
    #: sections that apply to a paper only when it has an answer in them (``optional:
    #: true``: the MMAT's design categories, of which a paper answers the one that fits)
    optional_sections: frozenset[str] = frozenset()

    def __hash__(self) -> int:
        """By id and content, so a form can key a cache."""
        return hash((self.id, self.sha256))

    def applicable(self, answered: Iterable[str]) -> list[Field]:
        """The fields that apply to a paper whose answered field ids are ``answered``: every
        field outside an optional section, and an optional section's fields once one of
        them is answered (what "done" and "of N items" count)."""
        touched = {self.fields[f].section for f in answered if f in self.fields}
        return [
            f
            for f in self.fields.values()
            if f.section not in self.optional_sections or f.section in touched
        ]

    def section_fields(self, section: str) -> list[Field]:
        """The fields of one section, in form order."""
        return [f for f in self.fields.values() if f.section == section]

    @property
    def key_fields(self) -> list[Field]:
        """The fields of the characteristics table, in form order."""
        return [f for f in self.fields.values() if f.key]


# --------------------------------------------------------------------------- loading


def forms_dir() -> Path:
    """Where the packaged forms live (``synth/data/forms``)."""
    return Path(str(resources.files("synth.data").joinpath("forms")))


def packaged_forms() -> list[str]:
    """The names of the packaged forms (file stems), sorted."""
    return sorted(p.stem for p in forms_dir().glob("*.yml"))


def load_form(path_or_name: str | Path) -> Form:
    """A form from a path, or a packaged form by name (``coproduction-extraction``,
    ``appraisal-mmat``, ``appraisal-casp-qualitative``, ``appraisal-aacods``).

    Cached by path, size and modification time: an edited file is read again.

    Raises
    ------
    FormError
        The file is missing, is not valid YAML, or breaks a rule of the form language.
    """
    path = _resolve(path_or_name)
    return load_cached(path, parse_form, FormError, "form")


def parse_form(data: bytes | str, *, source: Path | str = "<form>") -> Form:
    """Validate form YAML given as bytes or text; ``source`` names it in errors."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return _Builder(raw, source).build()


def default_form() -> Form:
    """The packaged extraction form for co-production and quality-improvement studies."""
    return load_form("coproduction-extraction")


def appraisal_tools() -> dict[str, Form]:
    """The packaged appraisal tools, id -> form.

    Raises
    ------
    FormError
        Two tools claim the same design (then :func:`tool_for` could not choose).
    """
    tools = [load_form(name) for name in packaged_forms()]
    out = {t.id: t for t in tools if t.kind == "appraisal"}
    claimed: dict[str, str] = {}
    for tool in out.values():
        for design in tool.applies_to:
            if design in claimed:
                raise FormError(
                    f"{tool.path}: applies_to: {design!r} is claimed by both "
                    f"{claimed[design]!r} and {tool.id!r}; a design needs one tool"
                )
            claimed[design] = tool.id
    return out


def tool_for(design: str | None, grey: bool) -> Form:
    """The appraisal tool for a paper: the grey-literature tool for grey literature, else
    the tool whose ``applies_to`` names the paper's design, else the one for ``other``
    designs (with the packaged tools: AACODS, CASP qualitative, MMAT)."""
    tools = appraisal_tools()
    wanted = [GREY] if grey else [design, OTHER] if design else [OTHER]
    for want in wanted:
        for tool in tools.values():
            if want in tool.applies_to:
                return tool
    raise FormError(f"no appraisal tool applies to {' or '.join(map(str, wanted))}")


def prefill(form: Form, tags: pd.DataFrame, record_id: str) -> dict[str, tuple[object, str]]:
    """The tagger's suggestions for one paper: field id -> (value, evidence sentence).

    ``tags`` are tag rows (``record_id, facet, label, score, evidence``, as
    :func:`synth.tagging.tag` or the store gives them; evidence a list of dicts or its JSON
    text). A field with a ``facet`` is filled from that facet's labels scoring at least
    :data:`PREFILL_MIN_SCORE`, best first, mapped by ``from_labels``; labels it cannot
    hold are left out. The sentence is the best label's first supporting sentence, so
    the reviewer sees why before accepting.
    """
    from synth.store.tags import parsed_evidence

    if tags.empty:
        return {}
    rows = tags[(tags["record_id"].astype(str) == str(record_id))]
    rows = rows[rows["score"] >= PREFILL_MIN_SCORE].sort_values("score", ascending=False)
    out: dict[str, tuple[object, str]] = {}
    for fld in form.fields.values():
        if fld.facet is None:
            continue
        hits = rows[rows["facet"] == fld.facet]
        suggested = [
            (value, evidence)
            for label, evidence in zip(
                hits["label"], parsed_evidence(hits["evidence"]), strict=True
            )
            if (value := fld.suggestion(str(label))) is not None
        ]
        if not suggested:
            continue
        value, evidence = suggested[0]
        sentence, where = _supporting(evidence)
        if fld.type == "choices":
            out[fld.id] = (list(dict.fromkeys(v for v, _ in suggested)), sentence)
        elif fld.type == "text":
            out[fld.id] = ("; ".join(dict.fromkeys(v for v, _ in suggested)), sentence)
        elif fld.type == "quote":
            if sentence:
                out[fld.id] = ({"text": sentence, "location": where}, sentence)
        else:
            out[fld.id] = (value, sentence)
    return out


def _supporting(evidence: list[dict[str, Any]]) -> tuple[str, str]:
    """The first sentence that counts for a label (not negated, positive weight) and the
    field it is in."""
    for ev in evidence:
        if ev.get("negated") or float(ev.get("weight") or 0) < 0:
            continue
        sentence = str(ev.get("sentence") or "").strip()
        if sentence:
            return sentence, str(ev.get("field") or "")
    return "", ""


def _resolve(path_or_name: str | Path) -> Path:
    """A packaged form's path for a bare name, else the path given."""
    text = str(path_or_name)
    if (
        isinstance(path_or_name, Path)
        or "/" in text
        or "\\" in text
        or text.endswith((".yml", ".yaml"))
    ):
        return Path(path_or_name)
    path = forms_dir() / f"{text}.yml"
    if not path.is_file():
        raise FormError(
            f"{text}: no such packaged form (packaged: {', '.join(packaged_forms())}; "
            "or give a path to a .yml file)"
        )
    return path


# --------------------------------------------------------------------------- value checks


def _check_text(field: Field, value: Any) -> str | None:
    return None if isinstance(value, str) else f"expected text, got {value!r}"


def _check_number(field: Field, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected a number, got {value!r}"
    return None if math.isfinite(value) else f"expected a finite number, got {value!r}"


def _check_choice(field: Field, value: Any) -> str | None:
    if value in field.choices:
        return None
    return f"{value!r} is not one of {', '.join(field.choices)}"


def _check_choices(field: Field, value: Any) -> str | None:
    if not isinstance(value, list | tuple):
        return f"expected a list of choices, got {value!r}"
    for item in value:
        problem = _check_choice(field, item)
        if problem:
            return problem
    if len(set(value)) != len(value):
        return f"a choice is given twice in {list(value)!r}"
    return None


def _check_year(field: Field, value: Any) -> str | None:
    low, high = YEAR_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return f"expected a year ({low}-{high}) as a whole number, got {value!r}"
    return None


def _check_quote(field: Field, value: Any) -> str | None:
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return f"expected a quote {{text, location}}, got {value!r}"
    extra = sorted(set(value) - _QUOTE_KEYS)
    if extra:
        return f"a quote has only text and location, got {', '.join(extra)}"
    location = value.get("location")
    if location is not None and not isinstance(location, str):
        return f"a quote's location must be text (a page, section or field), got {location!r}"
    return None


_CHECKS = {
    "text": _check_text,
    "number": _check_number,
    "choice": _check_choice,
    "choices": _check_choices,
    "year": _check_year,
    "quote": _check_quote,
}


# --------------------------------------------------------------------------- validation


def _parse_facets(data: bytes, *, source: Path | str) -> dict[str, frozenset[str] | None]:
    """The codebook's facets and their label ids (None for a gazetteer facet, whose labels
    are every country), read without building the tagger."""
    doc = yaml.load(data.decode("utf-8"), Loader=LineLoader) or {}
    out: dict[str, frozenset[str] | None] = {}
    for fid, facet in (doc.get("facets") or {}).items():
        labels = facet.get("labels") if isinstance(facet, dict) else None
        gazetteer = isinstance(facet, dict) and facet.get("gazetteer")
        out[str(fid)] = None if gazetteer else frozenset(str(k) for k in (labels or {}))
    return out


def _tagger_facets() -> dict[str, frozenset[str] | None]:
    return load_cached(codebook_path(), _parse_facets, FormError, "codebook")


class _Builder(RuleFileBuilder):
    """Turns the parsed YAML into a :class:`Form`, raising on the first problem."""

    error = FormError

    def build(self) -> Form:
        doc = read_yaml(self.raw, self.fail)
        if not isinstance(doc, dict):
            raise self.fail("", "a form must be a mapping with `id`, `title` and `sections`")
        self.check_keys(doc, _TOP_KEYS, "top level")
        form_id = self.ident(doc.get("id"), "id", doc.lines.get("id"))
        kind = doc.get("kind", "extraction")
        if kind not in KINDS:
            raise self.fail("kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
        title = self.text(doc.get("title"), "title", doc.lines.get("title"), required=True)
        citation = self.text(doc.get("citation"), "citation", doc.lines.get("citation"))
        if kind == "appraisal" and not citation:
            raise self.fail("citation", "an appraisal tool must cite the tool it follows")
        applies_to = tuple(self.str_list(doc.get("applies_to"), "applies_to"))
        if applies_to and kind != "appraisal":
            raise self.fail("applies_to", "only an appraisal tool applies to designs")
        self.check_designs(applies_to, doc.lines.get("applies_to"))
        scale = tuple(self.str_list(doc.get("scale"), "scale"))
        self.check_unique(scale, "scale", doc.lines.get("scale"))
        raw_sections = doc.get("sections")
        if not isinstance(raw_sections, list) or not raw_sections:
            raise self.fail("sections", "must be a non-empty list of sections with fields")
        fields: dict[str, Field] = {}
        lines: dict[str, int | None] = {}
        sections: list[str] = []
        section_help: dict[str, str] = {}
        optional: set[str] = set()
        for i, raw in enumerate(raw_sections):
            name = self.section(raw, i, sections)
            flag = raw.get("optional", False)
            if not isinstance(flag, bool):
                raise self.fail(
                    f"section {name!r}", f"`optional` must be true or false, got {flag!r}"
                )
            if flag:
                optional.add(name)
            help_text = self.text(raw.get("help"), f"section {name!r}, help", None)
            if help_text:
                section_help[name] = help_text
            for item in raw["fields"]:
                fld, line = self.field(item, name, scale)
                if fld.id in fields:
                    first = lines[fld.id]
                    at = f" (first at line {first})" if first else ""
                    raise self.fail(f"field {fld.id!r}", f"duplicate field id{at}", line)
                fields[fld.id] = fld
                lines[fld.id] = line
            sections.append(name)
        return Form(
            id=form_id,
            title=title,
            kind=kind,
            fields=fields,
            sections=tuple(sections),
            path=self.path,
            sha256=hashlib.sha256(self.raw).hexdigest(),
            citation=citation,
            applies_to=applies_to,
            version=str(doc.get("version") or ""),
            description=self.text(doc.get("description"), "description", None),
            section_help=section_help,
            optional_sections=frozenset(optional),
        )

    # -- parts ------------------------------------------------------------------------------

    def section(self, raw: Any, i: int, seen: list[str]) -> str:
        where = f"section {i + 1}"
        if not isinstance(raw, dict):
            raise self.fail(where, f"must be a mapping with `section` and `fields`, got {raw!r}")
        self.check_keys(raw, _SECTION_KEYS, where)
        line = raw.lines.get("section")
        name = self.text(raw.get("section"), f"{where}, section", line, required=True)
        if name in seen:
            raise self.fail(f"section {name!r}", "duplicate section name", line)
        if not isinstance(raw.get("fields"), list) or not raw["fields"]:
            raise self.fail(f"section {name!r}", "`fields` must be a non-empty list", line)
        return name

    def field(self, raw: Any, section: str, scale: tuple[str, ...]) -> tuple[Field, int | None]:
        if not isinstance(raw, dict):
            raise self.fail(f"section {section!r}", f"a field must be a mapping, got {raw!r}")
        line = raw.lines.get("id") or (min(raw.lines.values()) if raw.lines else None)
        fid = self.ident(raw.get("id"), f"section {section!r}, field id", line)
        where = f"field {fid!r}"
        self.check_keys(raw, _FIELD_KEYS, where)
        label = self.text(raw.get("label"), where, line, required=True, what="`label`")
        ftype = raw.get("type")
        if ftype not in FIELD_TYPES:
            raise self.fail(
                where,
                f"unknown type {ftype!r} (expected one of: {', '.join(FIELD_TYPES)})",
                raw.lines.get("type", line),
            )
        choices = tuple(self.str_list(raw.get("choices"), f"{where}, choices"))
        choice_line = raw.lines.get("choices", line)
        if ftype in ("choice", "choices"):
            choices = choices or scale
            if not choices:
                raise self.fail(where, f"a {ftype} field needs `choices` (or a form `scale`)", line)
            self.check_unique(choices, f"{where}, choices", choice_line)
        elif choices:
            raise self.fail(where, f"a {ftype} field takes no `choices`", choice_line)
        facet, from_labels = self.facet(raw, where, ftype, choices, line)
        key = raw.get("key", False)
        if not isinstance(key, bool):
            raise self.fail(where, f"`key` must be true or false, got {key!r}", line)
        help_text = self.text(raw.get("help"), where, line, what="`help`")
        fld = Field(fid, section, label, ftype, help_text, choices, facet, key, from_labels)
        return fld, line

    def facet(
        self, raw: dict, where: str, ftype: str, choices: tuple[str, ...], line: int | None
    ) -> tuple[str | None, tuple[tuple[str, str], ...]]:
        facet = raw.get("facet")
        mapping = raw.get("from_labels")
        if facet is None:
            if mapping is not None:
                raise self.fail(where, "`from_labels` needs a `facet`", line)
            return None, ()
        known = _tagger_facets()
        if facet not in known:
            raise self.fail(
                where,
                f"unknown tagger facet {facet!r} (the codebook has: {', '.join(known)})",
                raw.lines.get("facet", line),
            )
        if ftype not in _PREFILLED_TYPES:
            raise self.fail(where, f"a {ftype} field cannot be pre-filled by a tag (`facet`)", line)
        if mapping is None:
            return facet, ()
        map_line = raw.lines.get("from_labels", line)
        if not isinstance(mapping, dict):
            raise self.fail(where, "`from_labels` must map tagger labels to values", map_line)
        self.check_keys(mapping, None, f"{where}, from_labels")
        labels = known[facet]
        pairs = []
        for label, value in mapping.items():
            at = mapping.lines.get(label, map_line)
            if labels is not None and label not in labels:
                raise self.fail(
                    where, f"from_labels: {label!r} is not a label of facet {facet!r}", at
                )
            if not isinstance(value, str) or not value.strip():
                raise self.fail(where, f"from_labels: {label!r} must map to text", at)
            if choices and value not in choices:
                raise self.fail(
                    where,
                    f"from_labels: {label!r} maps to {value!r}, which is not one of its "
                    f"choices ({', '.join(choices)})",
                    at,
                )
            pairs.append((str(label), value))
        return facet, tuple(pairs)

    # -- helpers ----------------------------------------------------------------------------

    def check_designs(self, applies_to: tuple[str, ...], line: int | None) -> None:
        designs = _tagger_facets().get("design") or frozenset()
        for design in applies_to:
            if design not in designs | {GREY, OTHER}:
                raise self.fail(
                    "applies_to",
                    f"{design!r} is not a design label of the codebook, {GREY!r} or {OTHER!r} "
                    f"(designs: {', '.join(sorted(designs))})",
                    line,
                )

    def check_unique(self, values: tuple[str, ...], where: str, line: int | None) -> None:
        seen: set[str] = set()
        for v in values:
            if v in seen:
                raise self.fail(where, f"{v!r} is listed twice", line)
            seen.add(v)

    def ident(self, value: Any, where: str, line: int | None) -> str:
        if not isinstance(value, str) or not _ID_RE.match(value):
            raise self.fail(
                where,
                f"an id must be lower-case words joined by - or _ (like 'setting-country'), "
                f"got {value!r}",
                line,
            )
        return value

    def text(
        self,
        value: Any,
        where: str,
        line: int | None,
        *,
        required: bool = False,
        what: str = "",
    ) -> str:
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise self.fail(where, f"needs {what or 'a value'} (text)", line)
            return ""
        if not isinstance(value, str):
            hint = " (quote yes/no/on/off in YAML)" if isinstance(value, bool) else ""
            raise self.fail(where, f"{what or 'value'} must be text, got {value!r}{hint}", line)
        return " ".join(value.split()) if "\n" not in value.strip() else value.strip()
