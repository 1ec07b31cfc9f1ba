from . import agent  # noqa: F401  (ADK loads agent folders as packages)
