"""vectorstores."""
