"""After delivery (R-7): completion, the follow-up survey, the archive and the retention of personal data."""
