"""The theme codebook: the review's framework of themes, loaded from YAML and validated.

Themes are data (``synth/data/themes.yml`` by default) so a reviewer can read and change the
framework without touching code. A malformed file fails on load with a
:class:`ThemeCodebookError` naming the file, the theme and the problem, never halfway
through an assignment run; the sha256 of the file's bytes and its ``version`` travel with
every summary built from it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from synth.datafiles import load_cached

_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CUE_RE = re.compile(r"^[\w'’ -]+\*?(?: [\w'’-]+\*?)*$")
_TOP_KEYS = {
    "version", "name", "description", "scoring", "quality", "subject", "outcomes", "groups",
    "themes",
}  # fmt: skip
_QUALITY_KEYS = {"min_words", "max_capitalised_share", "min_lowercase_words", "reject"}
_REJECT_KEYS = {"pattern", "reason"}
_THEME_KEYS = {
    "id", "group", "heading", "definition", "recommendations", "cues", "negative",
    "question_cues",
}  # fmt: skip
_CUE_KEYS = {"phrase", "weight"}
_SCORING_DEFAULTS: dict[str, float] = {
    "cue_base": 0.5,
    "min_cue_score": 0.3,
    "similarity_threshold": 0.16,
    "min_passage_words": 4,
    "max_passage_chars": 600,
    "second_theme_ratio": 0.7,
    "max_paper_share": 0.25,
    "fit_share": 0.3,
    "question_threshold": 0.08,
    "few_papers": 3,
    "paper_theme_share": 0.5,
    "title_evidence": 0,
}


class ThemeCodebookError(ValueError):
    """A theme codebook that cannot be used; the message names file, theme and problem."""


@dataclass(frozen=True, slots=True)
class ThemeCue:
    """A phrase that suggests a theme; ``*`` ends a word that may take any ending."""

    phrase: str
    weight: float = 1.0


@dataclass(frozen=True)
class Theme:
    id: str
    group: str
    heading: str
    definition: str
    recommendations: tuple[str, ...]
    cues: tuple[ThemeCue, ...]
    negative: tuple[str, ...] = ()
    #: phrases in a review question that the theme answers ("success*", "barrier*")
    question_cues: tuple[str, ...] = ()

    def profile_texts(self) -> list[str]:
        """The texts whose TF-IDF centroid stands for the theme in text similarity."""
        cue_text = " ".join(c.phrase.replace("*", "") for c in self.cues)
        return [self.heading, self.definition, *self.recommendations, cue_text]


@dataclass(frozen=True)
class ThemeScoring:
    cue_base: float
    min_cue_score: float
    similarity_threshold: float
    min_passage_words: int
    max_passage_chars: int
    #: a passage goes to its best theme only; also to the second when it scores at least
    #: this share of the best (a passage that truly serves two themes)
    second_theme_ratio: float = 0.7
    #: no paper supplies more than this share of a theme's quotes
    max_paper_share: float = 0.25
    #: below this share of papers (with text beyond a title) matching any theme, the
    #: codebook does not fit the corpus and the page leads with the emergent topics
    fit_share: float = 0.3
    #: TF-IDF cosine between a review question and a theme or passage that links them
    question_threshold: float = 0.08
    #: themes with fewer papers than this are listed as thin evidence
    few_papers: int = 3
    #: a paper counts under a theme holding at least this share of the passages of its
    #: largest theme (its main themes), not under every theme it touches in passing
    paper_theme_share: float = 0.5
    #: whether a title alone is evidence for a theme (1) or not (0): a title names a topic,
    #: not a finding, and a single word in it put papers under themes they do not discuss
    title_evidence: bool = False


@dataclass(frozen=True)
class QualityRule:
    """A regular expression whose match rejects a sentence as a quote, and why."""

    pattern: re.Pattern[str]
    reason: str


@dataclass(frozen=True)
class PassageQuality:
    """What makes a sentence a quotable passage (rules in ``themes.yml`` under
    ``quality``): enough words, not a run of capitalised heading words, no rejected
    pattern (figure labels, reference-list lines, ...)."""

    min_words: int = 6
    max_capitalised_share: float = 0.6
    min_lowercase_words: int = 3
    reject: tuple[QualityRule, ...] = ()

    def problem(self, text: str) -> str | None:
        """Why ``text`` is not a sentence worth quoting, or None when it is."""
        words = text.split()
        if len(words) < self.min_words:
            return f"fragment (fewer than {self.min_words} words)"
        alpha = [w for w in words if w[:1].isalpha()]
        capitalised = sum(w[:1].isupper() for w in alpha)
        if alpha and capitalised / len(alpha) > self.max_capitalised_share:
            return "heading run (mostly capitalised words)"
        if len(alpha) - capitalised < self.min_lowercase_words:
            return "fragment (too few ordinary words)"
        for rule in self.reject:
            if rule.pattern.search(text):
                return rule.reason
        return None


@dataclass(frozen=True)
class ThemeCodebook:
    """Validated themes, in the order the file gives them."""

    path: Path | None
    version: str
    sha256: str
    name: str
    description: str
    groups: dict[str, str]
    themes: list[Theme]
    scoring: ThemeScoring
    quality: PassageQuality = PassageQuality()
    #: phrases by which a passage reports an outcome (what changed), for the page's
    #: "what the evidence does not cover"
    outcome_cues: tuple[str, ...] = ()
    #: phrases that say a paper is about the codebook's subject at all; a paper whose text
    #: holds none is in no theme (empty: every paper may be)
    subject_cues: tuple[str, ...] = ()

    @property
    def tag_version(self) -> str:
        """``themes:<version>:<sha256[:12]>``: which rules made an assignment."""
        return f"themes:{self.version}:{self.sha256[:12]}"

    def theme(self, theme_id: str) -> Theme:
        for t in self.themes:
            if t.id == theme_id:
                return t
        raise KeyError(theme_id)

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.themes]


def default_path() -> Path:
    return Path(str(resources.files("synth.data").joinpath("themes.yml")))


def load_theme_codebook(path: Path | str | None = None) -> ThemeCodebook:
    """Read and validate a theme codebook (default: the package's ``themes.yml``).

    Cached by path, size and modification time.

    Raises
    ------
    ThemeCodebookError
        The file is missing, is not YAML, or breaks a rule; the message names the file,
        the theme and the problem.
    """
    p = Path(path) if path is not None else default_path()
    return load_cached(p, parse_theme_codebook, ThemeCodebookError, "theme codebook")


def parse_theme_codebook(data: bytes | str, *, source: Path | str = "<themes>") -> ThemeCodebook:
    """Validate theme-codebook YAML given as bytes or text; ``source`` names it in errors."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return _Builder(raw, source).build()


class _Builder:
    def __init__(self, raw: bytes, source: Path | str) -> None:
        self.raw = raw
        self.source = str(source)
        self.path = Path(source) if isinstance(source, Path) else None

    def fail(self, where: str, problem: str) -> ThemeCodebookError:
        return ThemeCodebookError(
            f"{self.source}: {where}: {problem}" if where else f"{self.source}: {problem}"
        )

    def build(self) -> ThemeCodebook:
        try:
            doc = yaml.safe_load(self.raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise self.fail("", f"not UTF-8 text ({exc.reason})") from exc
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" (line {mark.line + 1})" if mark is not None else ""
            raise self.fail(
                "", f"YAML syntax error{at}: {getattr(exc, 'problem', None) or exc}"
            ) from exc
        if not isinstance(doc, dict):
            raise self.fail("", "the theme codebook must be a mapping with `groups` and `themes`")
        self.keys(doc, _TOP_KEYS, "top level")
        version = doc.get("version")
        if version is None or not str(version).strip():
            raise self.fail("version", "the theme codebook needs a `version`")
        groups = self.groups(doc.get("groups"))
        themes_raw = doc.get("themes")
        if not isinstance(themes_raw, list) or not themes_raw:
            raise self.fail("themes", "must be a non-empty list of themes")
        themes: list[Theme] = []
        seen: set[str] = set()
        for i, item in enumerate(themes_raw):
            theme = self.theme(item, i + 1, groups)
            if theme.id in seen:
                raise self.fail(f"theme {theme.id!r}", "duplicate theme id")
            seen.add(theme.id)
            themes.append(theme)
        return ThemeCodebook(
            path=self.path,
            version=str(version),
            sha256=hashlib.sha256(self.raw).hexdigest(),
            name=str(doc.get("name") or ""),
            description=str(doc.get("description") or "").strip(),
            groups=groups,
            themes=themes,
            scoring=self.scoring(doc.get("scoring")),
            quality=self.quality(doc.get("quality")),
            subject_cues=tuple(
                self.cue(c, f"subject, cue {i + 1}").phrase
                for i, c in enumerate(self.list_of(doc.get("subject"), "subject", "subject"))
            ),
            outcome_cues=tuple(
                self.cue(c, f"outcomes, cue {i + 1}").phrase
                for i, c in enumerate(self.list_of(doc.get("outcomes"), "outcomes", "outcomes"))
            ),
        )

    def keys(self, mapping: dict, allowed: set[str], where: str) -> None:
        unknown = [k for k in mapping if k not in allowed]
        if unknown:
            raise self.fail(
                where, f"unknown key {unknown[0]!r} (expected one of: {', '.join(sorted(allowed))})"
            )

    def groups(self, raw: Any) -> dict[str, str]:
        if not isinstance(raw, dict) or not raw:
            raise self.fail("groups", "must be a non-empty mapping of group id to heading")
        out = {}
        for gid, heading in raw.items():
            if not isinstance(gid, str) or not _ID_RE.match(gid):
                raise self.fail(f"group {gid!r}", "group ids must be kebab-case (a-z, 0-9, '-')")
            if not isinstance(heading, str) or not heading.strip():
                raise self.fail(f"group {gid!r}", "needs a heading (a non-empty string)")
            out[gid] = heading.strip()
        return out

    def scoring(self, raw: Any) -> ThemeScoring:
        raw = {} if raw is None else raw
        if not isinstance(raw, dict):
            raise self.fail("scoring", "must be a mapping")
        self.keys(raw, set(_SCORING_DEFAULTS), "scoring")
        vals: dict[str, float] = {}
        for key, default in _SCORING_DEFAULTS.items():
            v = raw.get(key, default)
            if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
                raise self.fail(f"scoring.{key}", f"must be a number >= 0, got {v!r}")
            vals[key] = v
        if not 0 < vals["cue_base"] < 1:
            raise self.fail(
                "scoring.cue_base", f"must be between 0 and 1, got {vals['cue_base']!r}"
            )
        for key in (
            "min_cue_score", "similarity_threshold", "second_theme_ratio", "max_paper_share",
            "fit_share", "question_threshold", "paper_theme_share", "title_evidence",
        ):  # fmt: skip
            if vals[key] > 1:
                raise self.fail(f"scoring.{key}", f"must be at most 1, got {vals[key]!r}")
        return ThemeScoring(
            cue_base=float(vals["cue_base"]),
            min_cue_score=float(vals["min_cue_score"]),
            similarity_threshold=float(vals["similarity_threshold"]),
            min_passage_words=int(vals["min_passage_words"]),
            max_passage_chars=int(vals["max_passage_chars"]) or 600,
            second_theme_ratio=float(vals["second_theme_ratio"]),
            max_paper_share=float(vals["max_paper_share"]),
            fit_share=float(vals["fit_share"]),
            question_threshold=float(vals["question_threshold"]),
            few_papers=int(vals["few_papers"]),
            paper_theme_share=float(vals["paper_theme_share"]),
            title_evidence=bool(vals["title_evidence"]),
        )

    def quality(self, raw: Any) -> PassageQuality:
        raw = {} if raw is None else raw
        if not isinstance(raw, dict):
            raise self.fail("quality", "must be a mapping")
        self.keys(raw, _QUALITY_KEYS, "quality")
        base = PassageQuality()
        vals = {}
        for key in ("min_words", "max_capitalised_share", "min_lowercase_words"):
            v = raw.get(key, getattr(base, key))
            if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
                raise self.fail(f"quality.{key}", f"must be a number >= 0, got {v!r}")
            vals[key] = v
        if vals["max_capitalised_share"] > 1:
            raise self.fail("quality.max_capitalised_share", "must be at most 1")
        rules = []
        for i, item in enumerate(self.list_of(raw.get("reject"), "quality", "reject")):
            where = f"quality.reject {i + 1}"
            if not isinstance(item, dict):
                raise self.fail(
                    where, f"must be a mapping with `pattern` and `reason`, got {item!r}"
                )
            self.keys(item, _REJECT_KEYS, where)
            pattern, reason = item.get("pattern"), item.get("reason")
            if not isinstance(pattern, str) or not pattern:
                raise self.fail(where, f"`pattern` must be a regular expression, got {pattern!r}")
            if not isinstance(reason, str) or not reason.strip():
                raise self.fail(where, "`reason` must be non-empty text")
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise self.fail(
                    where, f"pattern {pattern!r} is not a regular expression ({exc})"
                ) from exc
            rules.append(QualityRule(compiled, reason.strip()))
        return PassageQuality(
            min_words=int(vals["min_words"]),
            max_capitalised_share=float(vals["max_capitalised_share"]),
            min_lowercase_words=int(vals["min_lowercase_words"]),
            reject=tuple(rules),
        )

    def theme(self, raw: Any, n: int, groups: dict[str, str]) -> Theme:
        if not isinstance(raw, dict):
            raise self.fail(
                f"theme {n}", f"must be a mapping with `id`, `group`, `heading`, got {raw!r}"
            )
        tid = raw.get("id")
        where = f"theme {tid!r}" if isinstance(tid, str) else f"theme {n}"
        if not isinstance(tid, str) or not _ID_RE.match(tid):
            raise self.fail(where, f"needs an `id` in kebab-case (a-z, 0-9, '-'), got {tid!r}")
        self.keys(raw, _THEME_KEYS, where)
        group = raw.get("group")
        if group not in groups:
            raise self.fail(where, f"unknown group {group!r} (groups: {', '.join(groups)})")
        heading = self.text(raw.get("heading"), where, "heading")
        definition = self.text(raw.get("definition"), where, "definition")
        recs = tuple(
            self.text(r, where, f"recommendation {i + 1}")
            for i, r in enumerate(
                self.list_of(raw.get("recommendations"), where, "recommendations")
            )
        )
        cues = tuple(
            self.cue(c, f"{where}, cue {i + 1}")
            for i, c in enumerate(self.list_of(raw.get("cues"), where, "cues"))
        )
        if not cues:
            raise self.fail(where, "has no cues (give at least one phrase under `cues`)")
        phrases = [c.phrase for c in cues]
        dup = next((p for p in phrases if phrases.count(p) > 1), None)
        if dup is not None:
            raise self.fail(where, f"cue {dup!r} is listed twice")
        negative = tuple(
            self.cue(c, f"{where}, negative cue {i + 1}").phrase
            for i, c in enumerate(self.list_of(raw.get("negative"), where, "negative"))
        )
        question_cues = tuple(
            self.cue(c, f"{where}, question cue {i + 1}").phrase
            for i, c in enumerate(self.list_of(raw.get("question_cues"), where, "question_cues"))
        )
        return Theme(tid, group, heading, definition, recs, cues, negative, question_cues)

    def text(self, value: Any, where: str, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"`{key}` must be non-empty text, got {value!r}")
        return " ".join(value.split())

    def list_of(self, value: Any, where: str, key: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(where, f"`{key}` must be a list, got {type(value).__name__}")
        return value

    def cue(self, item: Any, where: str) -> ThemeCue:
        weight: Any = 1.0
        if isinstance(item, dict):
            self.keys(item, _CUE_KEYS, where)
            phrase = item.get("phrase")
            weight = item.get("weight", 1.0)
        else:
            phrase = item
        if not isinstance(phrase, str) or not phrase.strip():
            hint = " (quote yes/no/on/off in YAML)" if isinstance(phrase, bool) else ""
            raise self.fail(
                where, f"a cue must be a phrase or a mapping with `phrase`, got {item!r}{hint}"
            )
        phrase = " ".join(phrase.lower().split())
        if not _CUE_RE.match(phrase) or phrase.startswith("*"):
            raise self.fail(
                where,
                f"cue {phrase!r}: use words, spaces, hyphens and apostrophes;"
                " '*' only at a word's end",
            )
        if not isinstance(weight, int | float) or isinstance(weight, bool) or not 0 < weight <= 5:
            raise self.fail(where, f"weight must be a number in (0, 5], got {weight!r}")
        return ThemeCue(phrase, float(weight))
