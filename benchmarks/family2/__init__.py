"""Family 2 of the detection benchmark: assistant answers written for the purpose, found in chat
records, a Parquet code-analysis dataset and a repository (see ``benchmarks/family2.py``)."""
