"""Composed faults judged as a whole: seeded chaos runs with their checker, and fuzzing of the daemons' API."""
