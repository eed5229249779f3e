"""The benchmark suite's fixtures (``profile``, ``dataset_loader``, ``calibration``,
``trained``) and the parametrization of ``cell``, ``baseline_cell`` and ``experiment_name`` come
from initcore's pytest plugin, initcore/pytest_plugin.py. Nothing is defined here."""
