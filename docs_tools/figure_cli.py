"""The command line of every benchmark in bench/ that draws a figure.

``python bench/<name>.py`` measures (or simulates), prints the results table, saves it to the
script's results file and draws the figure from the saved numbers; ``--plot-only`` redraws the
figure from the results file and measures nothing. The figure always comes from the rounded
numbers in the file, so a measured run, ``--plot-only`` and tests/test_figures.py draw the same.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

Rows = TypeVar("Rows")


def run(doc: str, results: Path, measure: Callable[[], str], parse: Callable[[str], Rows],
        plot: Callable[[Rows], object], *, measures: str = "measure") -> None:
    """``measure`` returns the results table as text; ``parse`` reads that text back into what
    ``plot`` draws. ``doc`` is the script's docstring, whose first line describes it;
    ``measures`` is what --plot-only skips ("measure" or "simulate")."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--plot-only", action="store_true",
                        help=f"redraw the figure from the results file, {measures} nothing")
    if parser.parse_args().plot_only:
        plot(parse(results.read_text()))
        return
    text = measure()
    print(text, end="")
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(text)
    plot(parse(text))
