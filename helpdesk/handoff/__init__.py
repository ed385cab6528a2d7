"""The human handoff: the agents' queue, office hours (file and desk override), transcripts."""
