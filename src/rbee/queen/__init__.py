"""queen program of the rbee reference stack."""
