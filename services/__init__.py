"""The association's policy as plain functions: no Flask imports, domain errors only."""
