"""Cancellation tests use the product tests' production wiring (tests/product/conftest.py)."""

from tests.product.conftest import product

__all__ = ["product"]
