"""rbee-hive's route modules: its status (health, capabilities, telemetry), models, workers."""
