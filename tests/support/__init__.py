"""Helpers and fixture plugins shared by the test folders (imported as ``tests.support.*``;
the fixture modules are registered once in tests/conftest.py's ``pytest_plugins``)."""
