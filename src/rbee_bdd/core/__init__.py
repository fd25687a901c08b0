"""The harness's base: cleanups that always run, waiting for real conditions, identity, the timeline."""
