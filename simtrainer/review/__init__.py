"""The supervisor's side: session records, exports and annotations."""
