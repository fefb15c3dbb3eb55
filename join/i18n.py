"""/join in the phone's own language: one JSON file of strings per language, ``static/i18n/<code>.json``, and
English (``en.json``) for any key a language lacks.

The server picks the language from ``Accept-Language`` for the page's first paint and its ``<html lang>``
(routes.page), and sends the page its strings in the config; join.js asks ``navigator.languages`` too and, where
the browser prefers another language of these files, loads that one (static/i18n.js, the same rule).

- A language is a file: add ``xx.json`` with every key of en.json (tests/test_join_i18n.py checks each file has
  every key, and none en.json lacks).
- A string is a key of en.json, in the others as soon as there is a translation. ``{name}`` is a value the
  script fills in; a key ending ``_one`` / ``_other`` is a count's forms (Intl.PluralRules picks).
- In join.html: ``{{t:key}}`` is the string, HTML-escaped; ``data-i18n="key"`` (text), ``data-i18n-label``
  (aria-label) and ``data-i18n-alt`` say which key an element shows, so join.js can translate the page again.
  In the scripts: ``t("key", {name: value})`` and ``plural("key", count)`` from static/i18n.js.

Not translated: what the server says in a reply's ``error`` (it reaches the phone as sent), the models' names.
"""

from __future__ import annotations

import html
import json
import re
from functools import lru_cache
from pathlib import Path

from join.headers import weighted

FOLDER = Path(__file__).resolve().parent / "static" / "i18n"
DEFAULT = "en"
# Placeholders in the page's own strings that stand for an element, not a value: filled in by the page.
ELEMENTS = {"nickname": '<strong id="nickname"></strong>'}
_TAG = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$|^\*$")


@lru_cache(maxsize=1)
def languages() -> tuple[str, ...]:
    """The languages /join speaks: one per file, English first."""
    codes = sorted(path.stem for path in FOLDER.glob("*.json"))
    return (DEFAULT, *(code for code in codes if code != DEFAULT))


@lru_cache(maxsize=16)
def strings(language: str) -> dict[str, str]:
    """Every string of the page in ``language``, English where it has none."""
    english = _read(DEFAULT)
    return english if language == DEFAULT else {**english, **_read(language)}


def _read(language: str) -> dict[str, str]:
    return json.loads((FOLDER / f"{language}.json").read_text(encoding="utf-8"))


def choose(accept_language: str | None) -> str:
    """The language of ``languages()`` an ``Accept-Language`` header prefers most (by ``q``, then order), matched
    on its primary subtag (``de-CH`` is German); English when it names none of them."""
    wanted = [(-weight, position, tag.split("-")[0].lower())
              for position, (tag, weight) in enumerate(weighted(accept_language)) if weight > 0 and _TAG.match(tag)]
    known = languages()
    for _, _, primary in sorted(wanted):
        if primary in known:
            return primary
    return DEFAULT


def fill(template: str, language: str) -> str:
    """``{{t:key}}`` in ``template`` replaced by that string of ``language``, HTML-escaped (an element's
    placeholder, ELEMENTS, becomes the element)."""
    table = strings(language)

    def one(match: re.Match) -> str:
        text = html.escape(table[match.group(1)], quote=True)
        for name, element in ELEMENTS.items():
            text = text.replace(f"{{{name}}}", element)
        return text

    return re.sub(r"\{\{t:([a-z0-9_]+)\}\}", one, template)
