"""Pieces shared by the rbee daemons: narration, errors, SSE, serving."""
