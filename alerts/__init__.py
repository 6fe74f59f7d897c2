"""Public-opinion alerts: spike detection over the interaction log's volume and sentiment series."""
