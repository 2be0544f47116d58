from tests.gitrepo import repo  # noqa: F401  (the fixture, shared with tests/policy/)
