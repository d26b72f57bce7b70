"""A tiny command-line notebook."""

__version__ = "0.3.0"
