"""Collection: fetching, parsing, sectionizing and identifying articles."""
