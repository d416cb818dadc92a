"""Stories: articles about one event, from any outlet, grouped as they arrive."""

from digests.stories.cluster import (
    Incoming,
    Member,
    Merge,
    Placed,
    Placement,
    StoryMatcher,
    WindowStory,
    event_text,
    lead_of,
)

__all__ = [
    "Incoming",
    "Member",
    "Merge",
    "Placed",
    "Placement",
    "StoryMatcher",
    "WindowStory",
    "event_text",
    "lead_of",
]
