"""Output formats of `check`, one module each; this registry maps a format name to its renderer."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..config import Config
from ..models import CheckRun
from . import github, jsonfmt, junit, markdown, text

Renderer = Callable[[CheckRun, Config, bool], Iterator[str]]  # the report piece by piece

FORMATS: dict[str, Renderer] = {
    "text": lambda run, config, colour: text.render(run, colour),
    "json": lambda run, config, colour: jsonfmt.render(run),
    "markdown": lambda run, config, colour: markdown.render(run),
    "junit": lambda run, config, colour: junit.render(run),
    "github": lambda run, config, colour: github.render(run, config.path),
}


def render_check(fmt: str, run: CheckRun, config: Config, colour: bool = False) -> Iterator[str]:
    return FORMATS[fmt](run, config, colour)
