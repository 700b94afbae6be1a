"""What a run found, as plain data, its English sentences and its JSON."""
