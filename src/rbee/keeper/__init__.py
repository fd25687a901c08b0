"""keeper program of the rbee reference stack."""
