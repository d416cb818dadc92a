"""Stories: articles about one event, from any outlet, grouped as they arrive."""

from digests.stories.cluster import Incoming, Member, Placement, StoryMatcher, WindowStory, event_text

__all__ = ["Incoming", "Member", "Placement", "StoryMatcher", "WindowStory", "event_text"]
