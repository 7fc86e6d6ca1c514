"""Real servers started by the test fixtures (never the system services)."""
