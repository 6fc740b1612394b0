"""Fixture sites on 127.0.0.1. The sites are in tests/support/sites.py; the helper that runs
``continuo scrape`` in a subprocess is in tests/support/scrape.py."""

from __future__ import annotations

import pytest

from tests.support.scrape import Site
from tests.support.sites import FixtureServer, imslp_scenario, mutopia_scenario


@pytest.fixture
def mutopia_site(corpus_dir):
    scenario = mutopia_scenario(corpus_dir)
    server = FixtureServer(scenario.routes)
    yield Site(server, scenario)
    server.close()


@pytest.fixture
def imslp_site(corpus_dir):
    scenario = imslp_scenario(corpus_dir)
    server = FixtureServer(scenario.routes)
    yield Site(server, scenario)
    server.close()
