"""The licence filter, the style map and the command's option checks, without a crawl."""

from __future__ import annotations

import subprocess
import sys

import pytest

from radio.cli import main
from scraper.licences import DEFAULT_ALLOWED, allowed_licences, normalise_licence
from scraper.style_map import DEFAULT_STYLE_MAP, StyleMap, StyleMapError


@pytest.mark.parametrize("text, expected", [
    ("Public Domain", "public-domain"),
    ("http://creativecommons.org/licenses/publicdomain/", "public-domain"),
    ("Creative Commons Zero 1.0", "cc0"),
    ("https://creativecommons.org/publicdomain/zero/1.0/", "cc0"),
    ("CC0", "cc0"),
    ("Creative Commons Attribution 4.0", "cc-by"),
    ("CC BY 3.0", "cc-by"),
    ("http://creativecommons.org/licenses/by/2.5/", "cc-by"),
    ("Creative Commons Attribution-ShareAlike 3.0", "cc-by-sa"),
    ("Creative Commons Attribution Share Alike 4.0", "cc-by-sa"),
    ("IMSLP:Creative_Commons_Attribution-ShareAlike_4.0", "cc-by-sa"),
    ("Creative Commons Attribution Non-commercial 4.0", "cc-by-nc"),
    ("CC BY-NC-SA 4.0", "cc-by-nc-sa"),
    ("http://creativecommons.org/licenses/by-nc-nd/3.0/", "cc-by-nc-nd"),
    ("Creative Commons Attribution-NoDerivs 3.0", "cc-by-nd"),
    ("Copyright (c) 2001 Some Publisher", "unknown"),
    ("", "unknown"),
    ("Creative Commons", "unknown"),
])
def test_licence_spellings_normalise(text, expected):
    assert normalise_licence(text) == expected


def test_default_allows_only_free_licences_and_allow_licence_adds():
    assert DEFAULT_ALLOWED == {"public-domain", "cc0", "cc-by", "cc-by-sa"}
    assert allowed_licences(["CC BY-NC 4.0", "unknown"]) == DEFAULT_ALLOWED | {"cc-by-nc", "unknown"}
    with pytest.raises(ValueError, match="not a licence we know"):
        allowed_licences(["whatever-licence"])


def test_style_map_rules_composer_then_piece_style_then_period(tmp_path):
    styles = StyleMap.load(DEFAULT_STYLE_MAP)
    assert styles.style_for(composer="Bach, Johann Sebastian", period="Romantic") == "baroque"
    assert styles.style_for(composer="J. S. Bach (1685–1750)") == "baroque"
    assert styles.style_for(composer="Satie, Erik", piece_style="Romantic", period="Romantic") == "unsorted"
    assert styles.style_for(composer="Someone", piece_style="Renaissance") == "renaissance"
    assert styles.style_for(composer="Someone", period="Medieval") == "medieval"
    assert styles.style_for(composer="Bachelor, Jane") == "unsorted"  # whole words only

    own = tmp_path / "map.toml"
    own.write_text('default = "misc"\n[composer]\n"erik satie" = "impressionist"\n[period]\n"romantic" = "romantic"\n')
    mine = StyleMap.load(own)
    assert mine.style_for(composer="Satie, Érik") == "impressionist"
    assert mine.style_for(composer="Chopin, Frédéric", period="Romantic") == "romantic"
    assert mine.style_for(composer="Bach") == "misc"


@pytest.mark.parametrize("content, message", [
    ('default = "Not A Style"\n', "invalid"),
    ('[composer]\n"bach" = "baroque!"\n', "invalid"),
    ('[composers]\n"bach" = "baroque"\n', "unknown section"),
    ("[composer\n", "not valid TOML"),
])
def test_style_map_errors_name_the_file_and_the_fault(tmp_path, content, message):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(StyleMapError, match=message) as err:
        StyleMap.load(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("options, message", [
    (["--base-url", "ftp://example.org/"], "--base-url"),
    (["--allow-licence", "beer-ware"], "not a licence we know"),
    (["--limit", "-1"], "--limit"),
    (["--delay", "-2"], "--delay"),
    (["--contact", "somebody"], "--contact"),
    (["--style-map", "/nonexistent/map.toml"], "does not exist"),
])
def test_bad_options_fail_before_crawling(tmp_path, capsys, options, message):
    assert main(["scrape", "mutopia", "--home", str(tmp_path / "home"), *options]) == 1
    err = capsys.readouterr().err
    assert "continuo scrape: error:" in err and message in err
    assert not (tmp_path / "home").exists()


def test_the_cli_does_not_import_scrapy_until_a_scrape_runs():
    code = "import sys, radio.cli; radio.cli.build_parser(); print('scrapy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"
