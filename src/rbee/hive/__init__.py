"""hive program of the rbee reference stack."""

from rbee._lean_start import defer_model_builds

defer_model_builds()  # before FastAPI is imported: see rbee/_lean_start.py
