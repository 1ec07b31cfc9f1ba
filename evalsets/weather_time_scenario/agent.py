"""The weather_time agent, unchanged: this folder holds its user-simulator (scenario) eval set.

ADK and bench load an agent folder with its parent folder on sys.path, so the sibling
`weather_time` package is importable here.
"""

from weather_time.agent import root_agent

__all__ = ["root_agent"]
