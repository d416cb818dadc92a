"""The ``sitrep`` command line: another front door over the same services.

``base`` holds what every command shares (the apps, consoles, settings and one way to fail), ``commands``
the commands themselves, ``output`` how they print reports, and ``streams`` the JSON Lines path.
"""

from digests.cli.base import app
from digests.cli.commands import main

__all__ = ["app", "main"]
