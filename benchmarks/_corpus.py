"""The folder of real article pages the corpus benchmarks read, or one clear line when it is absent.

The corpus lives outside the repository (../shared/external/articles by default), so a fresh clone
has none: the benchmark says which folder it looked for and how to give another, not a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "external" / "articles"


def corpus_folder(given: str | Path | None) -> Path:
    """`given` (or the default folder) when it holds the pages (`html/`); else exit 2 saying so."""
    folder = Path(given) if given else DEFAULT
    if not (folder / "html").is_dir():
        script = Path(sys.argv[0]).name
        print(f"{script}: no article corpus at {folder} (no html/ folder there); "
              f"pass its folder: python benchmarks/{script} CORPUS_FOLDER", file=sys.stderr)
        raise SystemExit(2)
    return folder
