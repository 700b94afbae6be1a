"""What to run: validated, torch-free descriptions of a run, parsed from text."""
