"""Screenshots of a sample digest at desktop and phone widths, to look at the layout with a
real browser (headless Chromium) rather than guess from the CSS.

    python scripts/digest_screenshots.py [OUT_DIR]     # needs `chromium` (apt-get install chromium)

Writes OUT_DIR/digest.html and OUT_DIR/digest-1280.png, OUT_DIR/digest-390.png (default OUT_DIR:
a new temporary folder, printed). No network: the digest is built from sample cards.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from linkcheck.digest import Digest, Item, render_digest

WIDTHS = (1280, 390)


def sample() -> Digest:
    base = {"title": "Vilnius Summit Communiqué", "checked": "2026-11-27T08:00:09Z", "snapshot": None}
    quoted = Item(id="nato-communique", url="https://www.nato.int/cps/en/natohq/official_texts_217320.htm",
                  status="broken", link="alive", problems=("quote-altered", "content-changed"),
                  message="1 quoted passage differs from the page: 12 → 15.", wayback="https://web.archive.org/web/"
                  "20230712000000/https://www.nato.int/cps/en/natohq/official_texts_217320.htm",
                  quotes=({"text": "Allies agreed to spend at least 12 percent more in 2023.", "match": "altered",
                           "found_text": "Allies agreed to spend at least 15 percent more in 2024.",
                           "changes": [{"quote": "12", "page": "15"}, {"quote": "2023", "page": "2024"}]},),
                  first_seen="2026-11-25T08:00:09Z", last_seen="2026-11-27T08:00:09Z", count=3,
                  page="reports/pages/sample.html", **base)
    dead = Item(id="mofa-press-2023-07", url="https://www.mofa.go.jp/press/release/press4e_003297.html",
                status="broken", link="dead", problems=("dead",), message="The server answers HTTP 404 Not Found.",
                wayback="https://web.archive.org/web/20230713/https://www.mofa.go.jp/press/release/"
                "press4e_003297.html", first_seen="2026-11-20T08:00:09Z", last_seen="2026-11-27T08:00:09Z",
                count=12, **base)
    moved = Item(id="reuters-zelensky", url="https://www.reuters.com/world/europe/zelenskiy-absurd-2023-07-11/",
                 status="warning", link="redirected", problems=("redirected",),
                 message="The page moved permanently.", wayback=None,
                 final_url="https://www.reuters.com/world/europe/zelenskiy-says-absurd-2023-07-11/", **base)
    back = Item(id="kyodo-news", url="https://english.kyodonews.net/news/2023/07/abc.html", status="ok",
                link="alive", problems=(), message="", wayback=None,
                was="dead (The server answers HTTP 503 Service Unavailable.) on 2 passes from 2026-11-24T08:00:09Z",
                **base)
    return Digest(since="2026-11-20T08:00:00Z", until="2026-11-27T08:00:09Z", broke=[quoted, dead],
                  changed=[moved], recovered=[back], current=[quoted, dead, moved, back])


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="digest-shots-"))
    out.mkdir(parents=True, exist_ok=True)
    html = out / "digest.html"
    html.write_text(render_digest("html", sample()), encoding="utf-8")
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        print(f"wrote {html}; no chromium on PATH for the screenshots (apt-get install chromium)")
        return 1
    for width in WIDTHS:
        profile = tempfile.mkdtemp(prefix="chromium-")
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                        "--hide-scrollbars", f"--window-size={width},2400", f"--screenshot={out}/digest-{width}.png",
                        html.resolve().as_uri()], check=True, capture_output=True, timeout=120)
        shutil.rmtree(profile, ignore_errors=True)
        print(f"{out}/digest-{width}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
