"""The daemon's parts, wired together by `daemon.service.Daemon`.

catalog (experiments and their state), active runs (`stop_runs`), halt control, the run
executor, run launching (schedules, API triggers, the run slots), interrupted-run recovery,
run listeners (a queue per worker, off the run's thread) and housekeeping. See
docs/architecture-daemon.md for the path of one run through them.
"""
