"""The archive work of a streaming pass, on the archive queue of `runner`.

Each judged source's job is queued as it comes (`capture`: its capture as history knows it at
that moment, so the source's result can be stored at once); once every source is judged,
`finish` drains the queue and replays captures under `[archive] timeout`, and says which URLs'
captures that changed.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import httpx

from ..config import ArchiveSettings, Config
from ..durations import now_utc
from ..models import Capture
from ..store import Store
from .queue import Queue
from .runner import Drain, Job, enqueue, for_readers, merge, settings_key, verify_all
from .wayback import Wayback, keys_from_env


class ArchiveSession:
    def __init__(self, wayback: Wayback, store: Store, settings: ArchiveSettings, now: datetime,
                 min_score: float) -> None:
        self.wayback, self.settings, self.now, self.min_score = wayback, settings, now, min_score
        self.queue = Queue(store)
        self.key = settings_key(settings, wayback.keys)
        self.jobs: dict[str, Job] = {}  # one small job per cited URL (no page text)

    @classmethod
    def of(cls, config: Config, client: httpx.AsyncClient, store: Store) -> ArchiveSession:
        """A session for a pass starting now, with `config`'s archive settings and Wayback keys."""
        return cls(Wayback(client, config.archive, keys_from_env()), store, config.archive, now_utc(),
                   config.policy.min_quote_score)

    def add(self, job: Job) -> Job:
        """Count `job` in what `finish` drains and replays (merged with the session's earlier jobs
        for the same URL), without queueing it: the archive job of a distributed pass adds the
        jobs its check jobs queued."""
        if job.url in self.jobs:
            job = merge([self.jobs[job.url], job])[job.url]
        self.jobs[job.url] = job
        return job

    def capture(self, job: Job) -> Capture:
        """Queue `job` (merged with the pass's earlier jobs for the same URL)."""
        job = self.add(job)
        rows = enqueue(self.queue, {job.url: job}, self.settings, self.key, self.now)
        return for_readers(self.queue, job, rows.get(job.url))

    async def finish(self) -> dict[str, Capture]:
        """Drain and verify within the deadline; every job's capture as it stands after."""
        deadline = time.monotonic() + self.settings.timeout
        drain = Drain(self.wayback, self.queue, self.settings, self.key)
        # The drain gets most of the time; replays (verification) the rest, so a long backlog
        # cannot starve verification of the captures the pass just settled.
        await drain.run(time.monotonic() + self.settings.timeout * 0.75, set(self.jobs))
        rows = self.queue.get_many(self.jobs)
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await verify_all(self.wayback, self.queue, self.jobs, rows, self.min_score)
        except TimeoutError:
            pass
        return {url: for_readers(self.queue, job, rows.get(url)) for url, job in self.jobs.items()}
