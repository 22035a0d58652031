"""Log formatting (one JSON object per line)."""
