"""What only people at a terminal see: colour on stdout and a progress bar on stderr.

Both come from rich, and only when the stream is a terminal, so piped output stays byte-for-byte gator's
(and rich is not even imported then). rich also honours NO_COLOR and FORCE_COLOR.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

Style = str | None


def write_lines(lines: list[tuple[str, Style]]) -> None:
    """Print lines to stdout, each with its rich style when stdout is a terminal, plain otherwise."""
    if not sys.stdout.isatty():
        sys.stdout.write("".join(text + "\n" for text, _ in lines))
        return
    from rich.console import Console

    console = Console(markup=False, emoji=False, highlight=False, soft_wrap=True)
    for text, style in lines:
        console.print(text, style=style)


@contextmanager
def progress(total: int, description: str) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr while the work runs (only on a terminal); yields the function that advances it."""
    if total < 2 or not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)


@contextmanager
def progress_bars(description: str, enabled: bool = True) -> Iterator[Callable[[int], Callable[[], None]] | None]:
    """For a command's run: the function that opens a progress bar for `total` steps (and closes it when the
    block ends), or None when the output is not for people."""
    if not enabled:
        yield None
        return
    with ExitStack() as stack:
        yield lambda total: stack.enter_context(progress(total, description))
