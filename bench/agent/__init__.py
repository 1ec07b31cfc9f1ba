"""One ADK conversation against the server: model override, timed LLM calls, session records.

Plain asyncio; nothing here imports locust or gevent (see `bench.load` for that).
"""
