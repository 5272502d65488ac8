"""aftershock: scheduled, guarded, continuous chaos for Kubernetes."""

__version__ = "0.1.0"
