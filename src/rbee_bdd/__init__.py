"""rbee_bdd: the harness library the acceptance suite's steps use."""
