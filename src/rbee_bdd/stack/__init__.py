"""One scenario's stack: its settings and profile, the targets (Docker, local) it runs on, and the Stack itself."""
