"""/join in the phone's own language (join/i18n.py): every key in every language, the language an Accept-Language
header picks, the first paint and <html lang> in it; in Chromium, a German phone sees German, and a phone whose
browser prefers Spanish gets Spanish even when the header asked for English (navigator.languages, join.js)."""

from __future__ import annotations

import html
import json
import re
import string

import pytest

from join import i18n, routes
from join.headers import MOST_READ, weighted
from tests.support.join_phone import join_server_with_test_digits, open_join, pick_a_test_digit

LANGUAGES = ("en", "de", "fr", "es")  # at least these (issue 36)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_language_has_every_key_with_the_same_placeholders():
    assert set(LANGUAGES) <= set(i18n.languages()) and i18n.languages()[0] == "en"
    english = json.loads((i18n.FOLDER / "en.json").read_text(encoding="utf-8"))
    for language in i18n.languages():
        table = json.loads((i18n.FOLDER / f"{language}.json").read_text(encoding="utf-8"))
        assert set(table) == set(english), (language, set(english) - set(table), set(table) - set(english))
        for key, text in table.items():
            assert isinstance(text, str) and text.strip(), (language, key)
            assert placeholders(text) == placeholders(english[key]), (language, key, text)
            if language != "en" and len(english[key]) > 12 and key not in ("time_minutes",):
                assert text != english[key], f"{language}.{key} is still English"


def test_a_missing_key_is_english(monkeypatch, tmp_path):
    (tmp_path / "en.json").write_text('{"heading": "Draw a digit", "undo": "Undo"}', encoding="utf-8")
    (tmp_path / "xx.json").write_text('{"heading": "Xraw a xigit"}', encoding="utf-8")
    monkeypatch.setattr(i18n, "FOLDER", tmp_path)
    i18n.languages.cache_clear(), i18n.strings.cache_clear()
    try:
        assert i18n.languages() == ("en", "xx")
        assert i18n.strings("xx") == {"heading": "Xraw a xigit", "undo": "Undo"}
    finally:
        monkeypatch.undo()
        i18n.languages.cache_clear(), i18n.strings.cache_clear()


@pytest.mark.parametrize(("header", "language"), [
    ("de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7", "de"),  # Chromium's in German
    ("fr-CA", "fr"), ("es-419,es;q=0.9", "es"), ("en-GB,de;q=0.9", "en"),
    ("pt-BR,pt;q=0.9,es;q=0.5", "es"),  # the first language the page speaks
    ("de;q=0.2,fr;q=0.8", "fr"),  # by q, not by order
    ("de;q=0,fr", "fr"),  # q=0: not wanted
    ("", "en"), (None, "en"), ("*", "en"), ("tlh", "en"),
    ("de;q=abc,es", "es"), ("x" * 5000, "en"), (",".join(["zz"] * 1000) + ",de", "en"),  # junk: read, not trusted
])
def test_the_language_is_the_first_accept_language_names_that_the_page_speaks(header, language):
    assert i18n.choose(header) == language


@pytest.mark.parametrize(("header", "values"), [
    ("gzip, deflate, br, zstd", [("gzip", 1.0), ("deflate", 1.0), ("br", 1.0), ("zstd", 1.0)]),
    ("br;q=0.5, gzip;Q=0 , identity", [("br", 0.5), ("gzip", 0.0), ("identity", 1.0)]),
    ("de;level=1;q=0.25;quality=9", [("de", 0.25)]),  # another parameter ignored
    ("br;q=abc, gzip;q=1.5, de;q=0.1234", [("br", 0.0), ("gzip", 0.0), ("de", 0.0)]),  # not a weight: refused
    ("", []), (None, []), (", ,;q=1", []), (",".join(["x"] * 1000), [("x", 1.0)] * MOST_READ),
])
def test_accept_headers_are_read_with_one_grammar(header, values):
    assert weighted(header) == values


def page_in(join_app, accept_language: str | None) -> tuple[str, dict]:
    reply = join_app.client.get("/join", headers={"Accept-Language": accept_language} if accept_language else {})
    assert reply.status_code == 200 and "Accept-Language" in reply.headers["vary"]
    text = reply.text
    config = json.loads(html.unescape(re.search(r'data-config="([^"]*)"', text).group(1)))
    return text, config


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_first_paint_is_in_the_phones_language(join_app, language):
    text, config = page_in(join_app, f"{language}-XX,{language};q=0.9")
    table = i18n.strings(language)
    assert f'<html lang="{language}">' in text and config["language"] == language
    assert f"<title>{html.escape(table['title'])}</title>" in text
    assert html.escape(table["loading"]) in text and html.escape(table["pick"]) in text
    shown = re.sub(r'data-config="[^"]*"', "", text)  # the page, less the strings it sends join.js
    assert "{{" not in shown and not re.search(r"\{[a-z_]+\}", shown)
    assert '<strong id="nickname"></strong>' in text  # the nickname's element, inside the translated sentence
    assert config["strings"] == table and config["languages"][0] == "en"
    assert routes.privacy_note(language) in html.unescape(text)


def test_the_privacy_line_says_how_long_in_each_language(monkeypatch):
    monkeypatch.setenv("MNIST_AUDIENCE_KEEP", "4h")
    assert "deleted after 4 hours" in routes.privacy_note("en")
    assert "nach 4 Stunden gelöscht" in routes.privacy_note("de")
    monkeypatch.setenv("MNIST_AUDIENCE_KEEP", "1h")
    assert "supprimés après 1 heure" in routes.privacy_note("fr")
    monkeypatch.setenv("MNIST_AUDIENCE_KEEP", "forever")
    assert "guardan hasta que quien presenta los borre" in routes.privacy_note("es")
    assert routes.kept_for() is None


# --- in Chromium --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with join_server_with_test_digits(tmp_path_factory.mktemp("join")) as running:
        yield running



@pytest.mark.browser
def test_a_german_phone_sees_german_and_html_lang_de(server, browser):
    page = open_join(browser, server, locale="de-DE")
    assert page.evaluate("document.documentElement.lang") == "de"
    assert page.locator("h1").inner_text() == "Zeichne eine Ziffer"
    assert page.locator('[data-action="undo"]').inner_text() == "Rückgängig"
    assert "antworten, während du zeichnest" in page.locator("#status").inner_text()
    pick_a_test_digit(page)
    assert "MNIST-Testbild" in page.locator("#status").inner_text()
    assert page.locator("#said").inner_text().count(" sagt ") == 3
    assert re.search(r"\d,\d\s%\ssicher", page.locator(".answer .sure").first.inner_text())  # 99,9 % sicher
    page.context.close()


@pytest.mark.browser
def test_the_browsers_own_language_wins_where_the_header_said_another(server, browser):
    """A header that says English (a proxy rewrote it, a cached page) and a browser that prefers Spanish: the page
    loads Spanish and says it in <html lang>."""
    page = open_join(browser, server, locale="es-ES", extra_http_headers={"Accept-Language": "en"})
    assert page.evaluate("document.documentElement.lang") == "es"
    assert page.locator("h1").inner_text() == "Dibuja un dígito"
    assert page.title() == i18n.strings("es")["title"]
    assert page.locator("#canvas").get_attribute("aria-label") == i18n.strings("es")["canvas_label"]
    assert "los dibujos se borran después de 7 días" in page.locator("#privacy").inner_text()
    page.context.close()
