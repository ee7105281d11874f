"""Shared test configuration: the mocked Bot and fake database fixtures are available everywhere."""

pytest_plugins = ("tests.mocked_bot", "tests.fakes")
