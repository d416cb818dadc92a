"""Sitrep's Discord front door. Everything that imports discord lives in this package."""
