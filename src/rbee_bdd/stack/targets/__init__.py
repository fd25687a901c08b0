"""Where the stack's daemons run: Docker containers or local processes, behind one API."""
