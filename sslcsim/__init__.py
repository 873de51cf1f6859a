"""Command-line glue: the only package that ties compression, workloads and simulator together."""

from simulator import __version__

__all__ = ["__version__"]
