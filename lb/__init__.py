"""An HAProxy-compatible load balancer."""

__version__ = "0.1.0"
