"""The digest as JSON (`linkcheck.digest/1`)."""

from __future__ import annotations

import dataclasses
import json

from ..digest import Digest


def render(digest: Digest) -> str:
    """JSON for machines: every section of the digest."""
    data = {"schema": "linkcheck.digest/1"} | dataclasses.asdict(digest)
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
