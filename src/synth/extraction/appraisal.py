"""Each appraised paper's judgement per domain and overall, by the rules of ``appraisal.yml``.

A domain is a section of an appraisal tool. The answers a paper got on a domain's items
(their meanings: :func:`synth.extraction.values.answer_meaning`) give the domain's level
(low, some, high concern; not assessed when none was answered), and the judged domains give
the paper's overall level: robvis-like summaries for the traffic light and the stacked bar
per domain (:mod:`synth.report.appraisal_figures`). The rules are data
(``synth/data/appraisal.yml``, or a team's own file); a malformed file fails on load with a
:class:`AppraisalRulesError` naming the file, the key and the problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from synth.datafiles import RuleFileBuilder, load_cached, read_yaml

#: A domain with no answered item, a paper with no judged domain.
NOT_ASSESSED = "not-assessed"
#: The answer meanings a domain rule can name (``cerqual.yml``'s answers; ``ignore``
#: answers, "not applicable", count as not answered).
MEANINGS = ("none", "unclear", "concern")
#: :func:`domain_judgements`' domain of the paper's overall judgement.
OVERALL = "overall"
JUDGEMENT_COLUMNS = ["record_id", "domain", "level", *MEANINGS]


class AppraisalRulesError(ValueError):
    """An appraisal-judgement rules file that cannot be used (names file, key, problem)."""


@dataclass(frozen=True)
class JudgementRules:
    """The levels (best first: level -> {name, style}) and the two rule lists, each rule
    (level, the meanings or levels of which ``any`` one makes it hold; empty: always)."""

    levels: dict[str, dict[str, str]]
    domain: tuple[tuple[str, frozenset[str]], ...]
    overall: tuple[tuple[str, frozenset[str]], ...]

    def name(self, level: str) -> str:
        """The level as a reader sees it ("High concern")."""
        return self.levels[level]["name"]


def default_path() -> Path:
    """The packaged rules (``synth/data/appraisal.yml``)."""
    return Path(str(resources.files("synth.data").joinpath("appraisal.yml")))


def load_judgement_rules(path: str | Path | None = None) -> JudgementRules:
    """The judgement rules: the packaged file, or a team's own (cached per file version)."""
    return load_cached(
        Path(path) if path else default_path(), parse_judgement_rules, AppraisalRulesError,
        "appraisal judgement rules",
    )  # fmt: skip


def parse_judgement_rules(data: bytes | str, *, source: Path | str = "<rules>") -> JudgementRules:
    """Validate the rules given as bytes or text; ``source`` names them in errors."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return _Builder(raw, source).build()


def judge(given: Iterable[str | None], rules: tuple[tuple[str, frozenset[str]], ...]) -> str:
    """The level of the first rule that holds for ``given`` (answer meanings for a domain,
    domain levels for overall); not assessed when nothing counts (None, ``ignore``, not
    assessed)."""
    counted = {g for g in given if g and g not in ("ignore", NOT_ASSESSED)}
    if not counted:
        return NOT_ASSESSED
    for level, any_of in rules:
        if not any_of or counted & any_of:
            return level
    return NOT_ASSESSED  # unreachable with a validated file: its last rule always holds


def domain_judgements(
    values: pd.DataFrame, form: Any, rules: JudgementRules | None = None
) -> pd.DataFrame:
    """Per paper appraised with ``form`` and per domain of the form (in form order), then
    ``overall``: the level and how many of its answers meant none, unclear, concern.

    ``values``: record_id, field_id, value (and form_id, filtered to this form when
    present), as :func:`synth.extraction.cerqual.appraisal_values` gives them. A paper with
    no value on the form is not listed; a domain of a listed paper with no answered item
    is :data:`NOT_ASSESSED`. Columns :data:`JUDGEMENT_COLUMNS`.
    """
    from synth.extraction.values import answer_meaning

    rules = rules or load_judgement_rules()
    if "form_id" in values.columns:
        values = values[values["form_id"] == form.id]
    meanings: dict[str, dict[str, list[str]]] = {}  # paper -> domain -> meanings
    for rid, fid, value in zip(values["record_id"], values["field_id"], values["value"],
                               strict=True):  # fmt: skip
        field = form.fields.get(fid)
        if field is None:  # a field the form no longer has: the item plot flags it
            continue
        meaning = answer_meaning(value)
        paper = meanings.setdefault(str(rid), {})
        paper.setdefault(field.section, []).extend([meaning] if meaning else [])
    rows = []
    for rid in sorted(meanings):
        levels = []
        for domain in form.sections:
            mine = meanings[rid].get(domain, [])
            level = judge(mine, rules.domain)
            levels.append(level)
            rows.append((rid, domain, level, *_counts(mine)))
        every = [m for d in meanings[rid].values() for m in d]
        rows.append((rid, OVERALL, judge(levels, rules.overall), *_counts(every)))
    return pd.DataFrame(rows, columns=JUDGEMENT_COLUMNS)


def _counts(meanings: list[str]) -> tuple[int, ...]:
    return tuple(meanings.count(m) for m in MEANINGS)


# --------------------------------------------------------------------------- validation


class _Builder(RuleFileBuilder):
    error = AppraisalRulesError

    def build(self) -> JudgementRules:
        doc = read_yaml(self.raw, self.fail)
        if not isinstance(doc, dict):
            raise self.fail("", "expected a mapping with `levels`, `domain` and `overall`")
        self.check_keys(doc, {"version", "levels", "domain", "overall"}, "top level")
        levels = self.levels(doc.get("levels"), doc.lines.get("levels"))
        domain = self.rules(doc, "domain", levels, MEANINGS)
        overall = self.rules(doc, "overall", levels, tuple(levels))
        return JudgementRules(levels, domain, overall)

    def levels(self, raw: Any, line: int | None) -> dict[str, dict[str, str]]:
        from synth.report.palette import load_palette

        if not isinstance(raw, dict) or not raw:
            raise self.fail("levels", "must map each level to its name and style", line)
        self.check_keys(raw, None, "levels")
        styles = load_palette().judgements
        out: dict[str, dict[str, str]] = {}
        for level, spec in raw.items():
            at = raw.lines.get(level, line)
            if not isinstance(spec, dict) or not all(
                isinstance(spec.get(k), str) and spec[k].strip() for k in ("name", "style")
            ):
                raise self.fail(f"levels.{level}", "needs a `name` and a `style` (text)", at)
            if spec["style"] not in styles:
                raise self.fail(
                    f"levels.{level}",
                    f"style {spec['style']!r} is not one of palette.yml's judgements "
                    f"({', '.join(styles)})",
                    at,
                )
            out[str(level)] = {"name": spec["name"], "style": spec["style"]}
        if NOT_ASSESSED not in out:
            raise self.fail("levels", f"must include {NOT_ASSESSED!r}", line)
        return out

    def rules(
        self, doc: dict, key: str, levels: Mapping[str, Any], allowed: tuple[str, ...]
    ) -> tuple[tuple[str, frozenset[str]], ...]:
        raw, line = doc.get(key), doc.lines.get(key)
        if not isinstance(raw, list) or not raw:
            raise self.fail(key, "must be a list of rules ({level, any})", line)
        out = []
        for k, rule in enumerate(raw):
            where = f"{key}[{k}]"
            if not isinstance(rule, dict):
                raise self.fail(where, f"a rule is a mapping {{level, any}}, got {rule!r}", line)
            self.check_keys(rule, {"level", "any"}, where)
            level = rule.get("level")
            if level not in levels or level == NOT_ASSESSED:
                judged = [x for x in levels if x != NOT_ASSESSED]
                raise self.fail(where, f"level {level!r} is not one of {', '.join(judged)}", line)
            any_of = rule.get("any", [])
            if not isinstance(any_of, list) or any(a not in allowed for a in any_of):
                raise self.fail(
                    where, f"`any` must list some of {', '.join(allowed)}, got {any_of!r}", line
                )
            out.append((str(level), frozenset(any_of)))
        if out[-1][1]:
            raise self.fail(f"{key}[{len(out) - 1}]", "the last rule must have no `any`", line)
        return tuple(out)
