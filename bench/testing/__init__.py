"""Test helpers shipped with bench (the fake OpenAI-compatible server)."""
