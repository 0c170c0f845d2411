"""Operating fx unattended: the --serve feed for other programs, Prometheus metrics, notifications."""
