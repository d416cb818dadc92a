"""One extension per feature: digests, queries, administration."""
