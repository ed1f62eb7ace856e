"""The build hook that trims the JupyterLab stylesheet on notebook pages."""

from __future__ import annotations

import gzip
import importlib.util
import re
from pathlib import Path

from tests.support import ROOT

spec = importlib.util.spec_from_file_location("notebook_css", ROOT / "hooks" / "notebook_css.py")
notebook_css = importlib.util.module_from_spec(spec)
spec.loader.exec_module(notebook_css)


def page(css: str, body: str) -> str:
    return f'<style type="text/css">{css}</style><div class="jupyter-wrapper">{body}</div>'


def test_other_pages_are_left_alone():
    html = '<style>.unused{color:red}</style><p class="x">text</p>'
    assert notebook_css.on_post_page(html, None, None) == html


def test_rules_for_absent_classes_are_dropped_and_used_ones_kept():
    css = ".jupyter-wrapper .used{color:red}.jupyter-wrapper .absent{color:blue}"
    out = notebook_css.on_post_page(page(css, '<p class="used"></p>'), None, None)
    assert ".used{color:red}" in out and ".absent" not in out


def test_selector_lists_keep_only_matching_selectors():
    css = ".a,.b{color:red}"
    assert notebook_css.trim(css, {"a"}) == ".a{color:red}"


def test_commas_inside_is_do_not_split_a_selector():
    css = ".a :is(.x,.y) .b{color:red}"
    assert notebook_css.trim(css, {"a", "b"}) == css


def test_unused_custom_properties_go_even_with_semicolons_in_data_urls():
    css = (
        '.a{--used:1px;--icon:url("data:image/svg+xml;charset=utf-8,<svg/>");'
        "--chain:var(--used);width:var(--chain)}"
    )
    assert notebook_css.trim(css, {"a"}) == ".a{--used:1px;--chain:var(--used);width:var(--chain)}"


def test_braces_inside_strings_do_not_end_a_rule():
    css = '.a::before{content:"}"}.b{color:red}'
    assert notebook_css.trim(css, {"a"}) == '.a::before{content:"}"}'


def test_media_blocks_are_trimmed_inside_and_dropped_when_empty():
    css = "@media (max-width:10px){.a{color:red}.b{color:blue}}@media print{.c{color:red}}"
    assert notebook_css.trim(css, {"a"}) == "@media (max-width:10px){.a{color:red}}"


def test_root_inside_another_element_never_matches():
    assert notebook_css.trim(".jupyter-wrapper :root{--x:1}", {"jupyter-wrapper"}) == ""


def test_unreferenced_keyframes_and_font_faces_go():
    css = "@keyframes spin{to{opacity:0}}@font-face{font-family:x}.a{animation:fade 1s}" \
          "@keyframes fade{to{opacity:0}}"
    assert notebook_css.trim(css, {"a"}) == ".a{animation:fade 1s}@keyframes fade{to{opacity:0}}"


def test_built_notebook_pages_are_light_and_still_hide_the_copy_text(built_site: Path):
    for notebook in ["fundamentals/header-overhead", "failures/contention"]:
        html = (built_site / notebook / "index.html").read_text()
        assert len(gzip.compress(html.encode())) < 60_000, notebook
        styles = "".join(re.findall(r"<style[^>]*>(.*?)</style>", html, re.S))
        assert ".jupyter-wrapper .clipboard-copy-txt{display:none}" in styles
