"""Kept for imports; the errors live in the bottom layer (bench.schemas.errors)."""

from bench.schemas.errors import BenchError, RunFailed

__all__ = ["BenchError", "RunFailed"]
