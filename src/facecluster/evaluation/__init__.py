"""Scores and parameter choice: clustering metrics, the one parameter search (train split only),
leaderboards."""
