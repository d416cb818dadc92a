"""Tagging: which countries and which topics each article is about."""
