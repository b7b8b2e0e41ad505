"""magnus 0.5's ``magnus.exceptions`` names that callers catch."""

from magnus_render.errors import ExecutionFailedError

__all__ = ["ExecutionFailedError"]
