"""Fixtures the transport tests share: leak checks, and main() without a real event loop."""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest


@pytest.fixture(autouse=True)
def no_thread_leaks():
    """A test may not leave a thread behind (executors included)."""
    before = set(threading.enumerate())
    yield
    left = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    for thread in left:
        thread.join(timeout=5)  # an executor shutting down in the background
    assert not [t.name for t in left if t.is_alive()], "threads leaked"


@pytest.fixture
async def no_task_leaks():
    """Every task a test started is finished when its servers are closed."""
    yield
    others = [t for t in asyncio.all_tasks() - {asyncio.current_task()} if not t.done()]
    assert not others, f"tasks leaked: {others}"


@pytest.fixture
def run_main(monkeypatch):
    """Call a snippet's main() with arguments; return the coroutine name asyncio.run got."""

    def run(module, *argv, result=None):
        seen = []

        def fake_run(coro):
            seen.append(coro.cr_code.co_name)
            coro.close()
            return result

        monkeypatch.setattr(asyncio, "run", fake_run)
        monkeypatch.setattr(sys, "argv", [module.__file__, *argv])
        module.main()
        return seen[0]

    return run
