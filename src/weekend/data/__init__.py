"""Datasets: versions, schemas, profiles and validation."""
