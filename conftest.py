"""The options, hooks and fixtures of ``pytest bench`` are initcore's pytest plugin,
initcore/pytest_plugin.py (registered under the ``pytest11`` entry point in pyproject.toml);
its logic is initcore/session.py. Nothing is defined here."""
