"""Shared test configuration: the mocked Bot and the tests/fixtures.py fixtures are available everywhere."""

pytest_plugins = ("tests.mocked_bot", "tests.fixtures")
