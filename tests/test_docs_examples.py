"""Inline Python examples in the pages run, print what their ``#>`` comments say, and pass ruff.

Blocks that only include a snippet file (``--8<--``) are not examples: the snippet has its own
tests. ``make transcripts`` (pytest --update-examples) rewrites the ``#>`` comments.
"""

from __future__ import annotations

import pytest
from pytest_examples import CodeExample, EvalExample, find_examples

from tests.support import DOCS


def inline_examples() -> list[CodeExample]:
    pages = sorted(DOCS.rglob("*.md"))
    return [
        example
        for example in find_examples(*pages)
        if example.prefix_settings().get("lang", "py") in {"py", "python"}
        and "--8<--" not in example.source
    ]


@pytest.mark.parametrize("example", inline_examples(), ids=str)
def test_inline_example(example: CodeExample, eval_example: EvalExample):
    eval_example.set_config(line_length=100, target_version="py311")
    if eval_example.update_examples:
        eval_example.format(example)
        eval_example.run_print_update(example)
    else:
        eval_example.lint(example)
        eval_example.run_print_check(example)
