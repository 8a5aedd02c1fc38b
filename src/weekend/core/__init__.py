"""Core: settings, errors, names, ids, hashing, optional dependencies."""
