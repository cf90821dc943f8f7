"""A pass's outcomes without holding them: the pass keeps counters (`models.Tally`) and history
keeps the outcomes, read back source by source, in the sources' order, whenever a report, a log
or a notification goes through them. Memory stays flat in the number of sources."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from .models import Outcomes, Source, SourceOutcome, Status
from .results import outcome_from_dict
from .store import Store

CHUNK = 500  # sources read back per query


def stored_outcomes(store: Store, run_id: int, sources: Sequence[Source], statuses: Sequence[Status] = ()
                    ) -> Iterator[SourceOutcome]:
    """The outcomes pass `run_id` stored for `sources` (a source it did not judge is left out), only
    those of `statuses` when given."""
    for start in range(0, len(sources), CHUNK):
        chunk = sources[start:start + CHUNK]
        found = store.results_in_run(run_id, [s.id for s in chunk], [status.value for status in statuses])
        for s in chunk:
            if s.id in found:
                yield outcome_from_dict(found[s.id], s)


class StoredOutcomes:
    """A finished pass's outcomes, read back from its history file on each iteration."""

    def __init__(self, open_store: Callable[[], Store], run_id: int, sources: Sequence[Source], total: int) -> None:
        self.open_store, self.run_id, self.sources, self.total = open_store, run_id, sources, total

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[SourceOutcome]:
        return self.of_status()

    def of_status(self, *statuses: Status) -> Iterator[SourceOutcome]:
        store = self.open_store()
        try:
            yield from stored_outcomes(store, self.run_id, self.sources, statuses)
        finally:
            store.close()


def pass_outcomes(store: Store, run_id: int, sources: Sequence[Source], total: int) -> StoredOutcomes:
    """Pass `run_id`'s outcomes, read back from where `store` was opened (after it is closed too)."""
    return StoredOutcomes(lambda: Store.open(store.target, migrate=False), run_id, sources, total)


def of_status(outcomes: Outcomes, *statuses: Status) -> Iterator[SourceOutcome]:
    """The outcomes of `statuses`, in order; read from history, only theirs are read whole."""
    if isinstance(outcomes, StoredOutcomes):
        return outcomes.of_status(*statuses)
    return (o for o in outcomes if o.status in statuses)


class Mapped:
    """`outcomes`, each through `change` as it is read (a baseline's view of a pass)."""

    def __init__(self, outcomes: Outcomes, change: Callable[[SourceOutcome], SourceOutcome]) -> None:
        self.outcomes, self.change = outcomes, change

    def __len__(self) -> int:
        return len(self.outcomes)

    def __iter__(self) -> Iterator[SourceOutcome]:
        return map(self.change, self.outcomes)
