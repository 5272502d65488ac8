"""The notifications run listener: routes each finished run to its sinks' workers.

`run_ended` only filters, builds the payload (pure, microseconds) and offers it to bounded
queues, so it never blocks whatever thread dispatches listeners. It also owns the digest
scheduler and the shutdown drain.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from daemon.listeners import RunEnded
from daemon.logging import get_logger
from daemon.notify.config import NotifySettings, SinkSettings
from daemon.notify.delivery import Count, SinkWorker, send_once
from daemon.notify.digest import DigestScheduler
from daemon.notify.payload import run_payload, sample_run
from daemon.notify.transport import Reply

log = get_logger("aftershock.notify")


class ExperimentNotify:
    """What the daemon knows of one experiment that routing needs (from its `aftershock` key)."""

    def __init__(self, notify: list[str] | None = None, slo_seconds: float | None = None):
        self.notify = notify
        self.slo_seconds = slo_seconds


Lookup = Callable[[str], ExperimentNotify | None]


def select_sinks(
    sinks: Sequence[SinkSettings], run: RunEnded, notify: bool | list[str] | None
) -> list[SinkSettings]:
    """Pure routing: the experiment's `notify` (a list: only those sinks, [] or false: none)
    and then each sink's own filters (outcomes, experiment globs, tags, dry runs)."""
    if notify is False:
        return []
    named = notify if isinstance(notify, list) else None
    return [
        sink
        for sink in sinks
        if (named is None or any(fnmatch.fnmatchcase(sink.name, n) for n in named))
        and sink.wants(run.experiment_id, run.tags, str(run.outcome), run.dry_run)
    ]


class Notifier:
    name = "notify"

    def __init__(
        self,
        settings: NotifySettings,
        *,
        environ: Mapping[str, str],
        count: Count,
        lookup: Lookup = lambda _id: None,
        digest_build: Callable[[float], dict[str, Any] | None] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.settings = settings
        self.environ = environ
        self.lookup = lookup
        self.workers = {
            sink.name: SinkWorker(sink, environ=environ, count=count) for sink in settings.sinks
        }
        self.digest: DigestScheduler | None = None
        if settings.digest is not None and digest_build is not None:
            worker = self.workers[settings.digest.sink]
            self.digest = DigestScheduler(
                settings.digest, build=digest_build, deliver=worker.offer, clock=clock
            )
        self._warned: set[tuple[str, str]] = set()

    def start(self) -> None:
        for worker in self.workers.values():
            worker.start()
        if self.digest is not None:
            self.digest.start()

    def stop(self, deadline: float) -> None:
        """Drain the queues until `deadline` (monotonic); what is left is counted abandoned."""
        if self.digest is not None:
            self.digest.stop(deadline)
        for worker in self.workers.values():
            worker.close(deadline)
        for worker in self.workers.values():
            worker.finish(deadline)

    def run_ended(self, run: RunEnded) -> None:
        if not self.workers:
            return
        known = self.lookup(run.experiment_id)
        notify = known.notify if known else None
        if isinstance(notify, list):
            self._warn_unknown(run.experiment_id, notify)
        chosen = select_sinks(self.settings.sinks, run, notify)
        if not chosen:
            return
        payload = run_payload(
            run,
            public_url=self.settings.public_url,
            slo_seconds=known.slo_seconds if known else None,
        )
        for sink in chosen:
            self.workers[sink.name].offer(payload)

    def _warn_unknown(self, experiment: str, names: list[str]) -> None:
        for name in names:
            matched = any(fnmatch.fnmatchcase(sink, name) for sink in self.workers)
            if not matched and (experiment, name) not in self._warned:
                self._warned.add((experiment, name))
                log.warning("experiment names an unknown sink", experiment=experiment, sink=name)

    def test(self, sink_name: str, now: float | None = None) -> Reply:
        """One try of a sample message, synchronously: `aftershock notify test SINK`."""
        sink = self.settings.sink(sink_name)
        if sink is None:
            raise KeyError(sink_name)
        payload = run_payload(
            sample_run(time.time() if now is None else now),
            public_url=self.settings.public_url,
            slo_seconds=60.0,
        )
        return send_once(sink, payload, self.environ, sink.timeout.total_seconds())

    def status(self) -> list[dict[str, Any]]:
        """For the API and status page: never a URL, only where it is read from."""
        out = []
        for sink in self.settings.sinks:
            worker = self.workers[sink.name]
            state = worker.status
            out.append(
                {
                    "name": sink.name,
                    "type": sink.type,
                    "target": sink.target(),
                    "signed": sink.secret_file is not None or sink.secret_env is not None,
                    "outcomes": [str(o) for o in sink.outcomes],
                    "queued": worker.queued,
                    "counts": dict(state.counts),
                    "last_error": state.last_error,
                    "last_error_at": state.last_error_at,
                    "last_sent_at": state.last_sent_at,
                }
            )
        return out


def notifier_of(listeners: Sequence[object]) -> Notifier | None:
    """The daemon's notifier among its listeners (for shutdown and the status API)."""
    return next((x for x in listeners if isinstance(x, Notifier)), None)
