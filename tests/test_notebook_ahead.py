"""The build hook that executes notebook pages side by side (hooks/notebook_ahead.py), with a
stand-in for mkdocs-jupyter: each page's render() waits until the test lets it finish."""

from __future__ import annotations

import importlib.util
import threading
from types import SimpleNamespace

import pytest

from tests.support import ROOT

HOOK = ROOT / "hooks" / "notebook_ahead.py"
spec = importlib.util.spec_from_file_location("notebook_ahead", HOOK)
notebook_ahead = importlib.util.module_from_spec(spec)
spec.loader.exec_module(notebook_ahead)


class Plugin:
    """mkdocs-jupyter's part: notebook pages get a render() (here, one the test controls)."""

    def __init__(self, failing: str = ""):
        self.failing = failing
        self.release = threading.Event()
        self.rendered: dict[str, str] = {}

    def should_include(self, file) -> bool:
        return file.src_path.endswith(".py")

    def on_pre_page(self, page, config, files):
        def render(config, files):
            assert self.release.wait(timeout=10), "the test never let the notebook finish"
            if page.file.src_path == self.failing:
                raise RuntimeError(f"a cell of {page.file.src_path} failed")
            self.rendered[page.file.src_path] = threading.current_thread().name
        page.render = render
        return page


def pages(*paths: str) -> list[SimpleNamespace]:
    return [SimpleNamespace(file=SimpleNamespace(src_path=path)) for path in paths]


def build(plugin: Plugin, nav_pages: list) -> dict:
    config = {"plugins": {"mkdocs-jupyter": plugin}}
    notebook_ahead.on_nav(SimpleNamespace(pages=nav_pages), config, files=None)
    return config


def test_notebooks_render_in_threads_and_a_page_waits_for_its_own():
    plugin = Plugin()
    nav_pages = pages("index.md", "a/one.py", "b/two.py")
    config = build(plugin, nav_pages)
    try:
        assert plugin.rendered == {}  # both started, neither finished: nothing waits yet
        notebook_ahead.on_pre_page(nav_pages[0], config, files=None)  # a Markdown page
        plugin.release.set()
        for page in nav_pages[1:]:
            notebook_ahead.on_pre_page(page, config, files=None)
            assert plugin.rendered[page.file.src_path].startswith("notebook")
    finally:
        notebook_ahead.on_post_build(config)
    assert notebook_ahead.running == {} and notebook_ahead.pool is None


def test_an_error_in_a_cell_fails_the_build_at_its_page():
    plugin = Plugin(failing="b/two.py")
    nav_pages = pages("a/one.py", "b/two.py")
    config = build(plugin, nav_pages)
    plugin.release.set()
    try:
        notebook_ahead.on_pre_page(nav_pages[0], config, files=None)
        with pytest.raises(RuntimeError, match="a cell of b/two.py failed"):
            notebook_ahead.on_pre_page(nav_pages[1], config, files=None)
    finally:
        notebook_ahead.on_build_error(RuntimeError())
    assert notebook_ahead.running == {} and notebook_ahead.pool is None
