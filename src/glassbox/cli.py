"""Shared entry-point code for the stage scripts: logging set-up and one-line errors."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from glassbox.errors import GlassboxError

log = logging.getLogger("glassbox")


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's ``main``; a GlassboxError becomes one line on stderr and exit status 2."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        main()
    except GlassboxError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
