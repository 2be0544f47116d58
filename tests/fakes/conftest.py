"""The ``vendor_upstream`` fixture for these tests (other test folders import it the same way)."""

from tests.fakes.vendors import vendor_upstream  # noqa: F401
