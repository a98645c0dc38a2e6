"""Hidden suites: fixtures ``student``/``rng``, the ``grade`` marker and result collection
come from the nnkit plugin (see nnkit/pytest_plugin.py and docs/architecture.md)."""

pytest_plugins = ["nnkit.pytest_plugin"]
