"""Shared test configuration: the mocked Bot fixture is available everywhere."""

pytest_plugins = ("tests.mocked_bot",)
