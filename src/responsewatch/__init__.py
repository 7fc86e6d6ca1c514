"""responsewatch: reply-latency watch for independent consultants."""

__version__ = "0.1.0"
