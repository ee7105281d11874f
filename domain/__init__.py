"""The order model and every business rule; standard library only."""
