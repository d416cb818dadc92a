"""Benchmarks: programs that print figures. They never fail CI on speed."""
