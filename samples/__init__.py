"""Sample pipelines and their tasks; run them from the repository root."""
