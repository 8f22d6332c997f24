"""What every `qa` command shares: the consoles it prints to and the settings and assistant its options name."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from qa import Assistant, Settings

# soft_wrap: an error stays one line however long the path in it is.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def settings_from(ctx: click.Context, **overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in {**ctx.obj, **overrides}.items() if v is not None})


def assistant_from(ctx: click.Context, **overrides: Any) -> Assistant:
    return Assistant(settings_from(ctx, **overrides))


def say_wait(message: str) -> None:
    """Prints what a command waits for (another process holding the index)."""
    err.print(escape(message))
