"""Exchange formats: pure decoders of venue frames, and readers of public capture files."""
