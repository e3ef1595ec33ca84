"""Sound input: file reading and checks (io), log-mel features (mel), live recording (recorder)."""
