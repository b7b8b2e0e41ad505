"""The runtime: executes IR nodes and records them in the run log.

Everything a container needs (``magnus execute_single_node`` / ``magnus fan``) is reachable
without importing rich, jinja2 or any renderer, so a container starts quickly.
"""
