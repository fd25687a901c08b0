"""The run's accounting and reports: scenario facts, the summary, merged parts, HTML, traceability, progress lines."""
