"""Helpers shared by every area's tests (run log comparison, running samples)."""
