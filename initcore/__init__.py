"""initcore: a benchmark and regression suite for neural-network weight initialization."""

__version__ = "0.1.0"
