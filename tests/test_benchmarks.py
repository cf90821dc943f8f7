"""The corpus benchmarks without their corpus: one line naming the folder and how to pass it, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.parametrize("script", ["quote_accuracy.py", "real_pages.py", "stages.py"])
def test_a_missing_corpus_is_one_line_and_exit_2(script: str, tmp_path: Path) -> None:
    absent = tmp_path / "articles"
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), str(absent)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(absent) in lines[0] and f"python benchmarks/{script} CORPUS_FOLDER" in lines[0]
