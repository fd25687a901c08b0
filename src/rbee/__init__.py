"""The rbee reference stack: queen-rbee, rbee-hive, llm-worker-rbee and rbee-keeper."""

from rbee._lean_start import skip_httpx_command_line

skip_httpx_command_line()  # before anything imports httpx: see rbee/_lean_start.py
