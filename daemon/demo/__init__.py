"""`aftershock demo`: the whole story against the simulator, on an accelerated clock."""

from daemon.demo.catalog import accelerate
from daemon.demo.run import demo_settings, run_demo

__all__ = ["accelerate", "demo_settings", "run_demo"]
