"""Command-line glue: the only package that ties compression, workloads and simulator together."""

__version__ = "0.1.0"
