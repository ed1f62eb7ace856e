"""The demo output a page shows is what the snippet really prints.

Every snippet ``snippets/<section>/<topic>.py`` has its demo's output beside it in
``<topic>.txt``; pages include that file. This test runs each demo exactly as
``python <topic>.py`` would and compares. ``make transcripts`` (pytest --update-examples)
rewrites the files from a real run after a deliberate change.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import ROOT, run_demo, snippet_files


@pytest.mark.parametrize(
    "snippet", snippet_files(), ids=lambda p: str(p.relative_to(ROOT / "snippets"))
)
def test_demo_prints_the_transcript_shown_on_its_page(
    snippet: Path, request: pytest.FixtureRequest
):
    transcript = snippet.with_suffix(".txt")
    printed = run_demo(snippet)
    assert printed.strip(), f"{snippet.name} printed nothing: a demo must print a transcript"
    if request.config.getoption("update_examples"):
        transcript.write_text(printed)
    assert transcript.exists(), f"missing {transcript.name}: run `make transcripts`"
    assert printed == transcript.read_text(), (
        f"{snippet.name} no longer prints {transcript.name}; if the change is intended, "
        "run `make transcripts` and review the diff"
    )
