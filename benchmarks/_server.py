"""A loopback HTTP server for benchmarks, in its own process: every page answers after a delay.

    python benchmarks/_server.py PORT DELAY_SECONDS [BODY_KB]
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web


def main() -> None:
    port, delay = int(sys.argv[1]), float(sys.argv[2])
    filler = "<p>" + "Filler text of the page, repeated to the wanted size. " * 20 + "</p>"
    kb = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    body = ("<html><head><title>Benchmark page</title></head><body><main><p>We will be in a position to "
            "extend an invitation to Ukraine to join the Alliance when Allies agree and conditions are met.</p>"
            + filler * max(1, kb * 1024 // len(filler)) + "</main></body></html>").encode()

    async def handle(request: web.Request) -> web.Response:
        await asyncio.sleep(delay)
        return web.Response(body=body, content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=4096)


if __name__ == "__main__":
    main()
