"""What the tagged-format readers (RIS, MEDLINE, Web of Science, EndNote) share."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

import yaml

#: C0 control characters: binary junk inside a record (tab, LF, FF, CR excepted)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")
YEAR = re.compile(r"(?<!\d)(1[6-9]\d\d|20\d\d)(?!\d)")
DIGITS = re.compile(r"^\d{1,9}$")


@cache
def tag_table(name: str) -> dict[str, Any]:
    """The tag map ``data/<name>_tags.yml`` (package data, read once)."""
    text = resources.files("synth.data").joinpath(f"{name}_tags.yml").read_text("utf-8")
    return yaml.safe_load(text)


def leftover_extra(
    fields: dict[str, list[str]], consumed: Iterable[str], drop: dict[str, set[str]]
) -> dict[str, Any]:
    """Tags no canonical column took (minus values already used), kept for round trips."""
    consumed = set(consumed)
    extra: dict[str, Any] = {}
    for tag, vals in fields.items():
        if tag in consumed:
            continue
        d = drop.get(tag)
        keep = [v for v in vals if v and (d is None or v not in d)]
        if keep:
            extra[tag] = keep[0] if len(keep) == 1 else keep
    return extra
