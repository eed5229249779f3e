"""The short forms of the benchmark's options (``--profile``, ``--seeds``, ``--report-dir`` ...).

initcore's pytest plugin (initcore/pytest_plugin.py) registers every option of the suite as
``--initcore-NAME`` in every pytest session, so that it never takes a name another project
uses; this conftest, an initial conftest of ``pytest bench`` (and of ``pytest --pyargs
initcore.bench``: the wheel ships the suite as that package), adds the same options as ``--NAME``,
with the same destination, from the same table (:mod:`initcore.options`). The fixtures and the
parametrization come from the plugin."""

from __future__ import annotations

import pytest

from initcore import options


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_bench_options(parser.getgroup("initcore").addoption, prefix="")
