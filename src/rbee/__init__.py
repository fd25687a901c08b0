"""The rbee reference stack: queen-rbee, rbee-hive, llm-worker-rbee and rbee-keeper."""
