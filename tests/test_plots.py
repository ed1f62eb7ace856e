"""Plots for the pages (docs_tools/plots.py): themed by CSS variables, described, legible."""

from __future__ import annotations

import re

import matplotlib
import pytest

from docs_tools import plots

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def figure(**style):
    with matplotlib.rc_context():
        plots.apply_style()
        fig, axis = plt.subplots(figsize=(4.9, 3))
        axis.plot([1, 2, 3], [1, 4, 9], label="squares", **style)
        axis.set_xlabel("n")
        axis.legend()
        return fig


def test_colours_become_the_schemes_variables_and_the_background_is_transparent():
    svg = plots.inline_svg(figure(), "A line rising from 1 to 9.")
    assert "var(--plot-text)" in svg and "var(--plot-series-1)" in svg
    assert not re.findall(r"#[0-9a-fA-F]{6}\b", svg)
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg and "\n\n" not in svg
    plt.close("all")


def test_the_figure_is_an_image_named_by_its_alt_text_with_unique_ids():
    svg = plots.inline_svg(figure(), "A line rising from 1 to 9.")
    title_id = re.search(r'aria-labelledby="([^"]+)"', svg).group(1)
    assert f'<title id="{title_id}">A line rising from 1 to 9.</title>' in svg
    assert 'role="img"' in svg
    ids = re.findall(r'\sid="([^"]+)"', svg)
    assert all(ident.startswith(title_id) for ident in ids)
    assert "svg.plot *{" in svg, "matplotlib's catch-all rule stays inside the figure"
    plt.close("all")


def test_min_width_keeps_the_smallest_text_at_12_px():
    svg = plots.inline_svg(figure(), "A line.")
    width = float(re.search(r'<svg[^>]*\swidth="(\d+)"', svg).group(1))
    smallest_px = min(float(v) for v in re.findall(r"font(?:-size)?:\s*([\d.]+)px", svg)) * 4 / 3
    min_width = int(re.search(r"min-width: (\d+)px", svg).group(1))
    assert min_width * smallest_px / width == pytest.approx(plots.MIN_TEXT_PX, abs=0.1)
    plt.close("all")


def test_a_literal_colour_or_a_missing_description_is_refused():
    with pytest.raises(ValueError, match="palette"):
        plots.inline_svg(figure(color="#ff0000"), "A red line.")
    with pytest.raises(ValueError, match="alt text"):
        plots.inline_svg(figure(), " ")
    plt.close("all")
