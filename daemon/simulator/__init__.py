"""A simulated Kubernetes API server plus the controllers that make it behave like a cluster.

It is the demo's cluster, the target of integration tests and benchmarks, and it keeps
ground-truth timestamps of every disruption so recovery measurements can be checked.
"""
