"""The feature store."""
