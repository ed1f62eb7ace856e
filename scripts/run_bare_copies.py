"""Run every program as a reader who copied just that one file would: alone in an empty folder
outside the repository, with `uv run <name>.py`, which reads the file's inline script metadata
(PEP 723) and installs what it declares from the package index. Each program's output must be
the transcript its page shows (snippets/<section>/<name>.txt).

Usage: python scripts/run_bare_copies.py [name ...]   (or `make bare-copies`; needs uv and
network access to the package index; the unit tests never leave 127.0.0.1, this does)
"""

from __future__ import annotations

import concurrent.futures
import difflib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNIPPETS = ROOT / "snippets"
TIMEOUT_S = 600  # the first run of a program may download its packages
PARALLEL = 3


def programs(names: list[str]) -> list[Path]:
    found = sorted(p for p in SNIPPETS.rglob("*.py") if "__pycache__" not in p.parts
                   and not p.name.endswith(("_pb2.py", "_pb2_grpc.py")))
    return [p for p in found if not names or p.stem in names or p.name in names]


def uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        sys.exit("uv is not installed: `make bare-copies` installs it with the test tools")
    return found


def run(program: Path) -> tuple[Path, bool, float, str]:
    """Copy ``program`` alone into an empty folder, run it with uv, compare with its transcript."""
    expected = program.with_suffix(".txt").read_text(encoding="utf-8")
    env = {key: value for key, value in os.environ.items()
           if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    with tempfile.TemporaryDirectory(prefix="bare-copy-") as folder:
        copy = Path(folder) / program.name
        shutil.copyfile(program, copy)
        started = time.perf_counter()
        try:
            result = subprocess.run([uv(), "run", "--quiet", "--no-project", copy.name],
                                    cwd=folder, env=env, capture_output=True, text=True,
                                    timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return program, False, TIMEOUT_S, f"no answer in {TIMEOUT_S} s"
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            return program, False, seconds, f"exit {result.returncode}:\n{result.stderr[-2000:]}"
        if result.stdout != expected:
            diff = difflib.unified_diff(expected.splitlines(), result.stdout.splitlines(),
                                        "page transcript", "bare copy", lineterm="")
            return program, False, seconds, "\n".join(diff)
        return program, True, seconds, ""


def main(names: list[str]) -> int:
    chosen = programs(names)
    failures = 0
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        for program, ok, seconds, why in pool.map(run, chosen):
            name = program.relative_to(SNIPPETS)
            print(f"{'ok    ' if ok else 'FAILED'} {seconds:6.1f} s  {name}", flush=True)
            if not ok:
                failures += 1
                print("    " + why.replace("\n", "\n    "), flush=True)
    print(f"{len(chosen) - failures} of {len(chosen)} programs ran from a bare copy and printed "
          "their page's transcript.")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
