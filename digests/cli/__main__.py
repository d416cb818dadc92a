"""``python -m digests.cli``: the ``sitrep`` command."""

from digests.cli.commands import main

main()
