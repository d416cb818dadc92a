"""Sitrep's domain: collection, storage, summarizing, tagging and digest building.

Nothing in this package imports discord; the bot in ``bot/`` is one front door among several.
"""

__version__ = "0.1.0"
