"""initcore's benchmark suite. In the repository it is ``bench/``; the wheel ships it as the
package ``initcore.bench`` (pyproject.toml), so ``pytest bench`` from a folder without one, or
``pytest --pyargs initcore.bench``, runs the installed copy."""
