"""The e2e tests use the integration tests' simulated-cluster fixtures."""

from tests.integration.conftest import make_sim, sim  # noqa: F401 - fixtures, used by name
