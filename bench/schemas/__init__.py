"""The contracts between stages: run folder paths, the manifest, settings, records, run config.

This is the bottom layer: it imports nothing from the stage packages (server, load, agent,
evalset, scoring, results, report, runner, cli). Stage packages import it.
"""
