"""Locust in a child process: the only package that imports locust or gevent.

`process.LocustProcess` (used by the pipeline) starts `locust -f bench/load/locustfile.py` with
the run's `LoadSpec`; `locustfile` runs ADK sessions through `bridge` and writes raw JSONL with
`recorder`; `tickets` hands out sessions across Locust processes. `spec`, `recorder`, `tickets`
and `process` import neither locust nor gevent, so the orchestrator may use them.
"""
