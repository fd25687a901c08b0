"""queen-rbee's route modules: jobs and their streams; the cluster (heartbeats, narration, registry views)."""
