"""Storage: typed models, repository functions that never commit, and migrations."""
