"""worker program of the rbee reference stack."""
