"""The safety limits as hypothesis properties, checked from the simulator's ground truth.

Generated experiments (kills, `terminate_pods`, `scale_deployment`, background, rollbacks,
kills in hypothesis probes and tolerances, `${}` templates) run through `aftershock run` and
`aftershock serve` on a fresh simulated cluster, with and without API faults, SIGKILLs and
concurrent runs; the limits are read back from `GET /sim/v1/timeline` and a watch on every
Deployment, never from aftershock's journal.

The examples are derandomized (the same on every machine, no example database).
`AFTERSHOCK_PROPERTY_EXAMPLES=N` searches longer, `AFTERSHOCK_PROPERTY_SHRINK=0` reports a
failure without shrinking it (shrinking may take hypothesis's 5 minutes per property),
`AFTERSHOCK_PROPERTY_RANDOM=1` explores new examples.
"""
