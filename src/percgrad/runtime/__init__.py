"""Where and within what a run takes place: device, memory, progress callbacks."""
