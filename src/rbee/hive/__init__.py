"""hive program of the rbee reference stack."""
