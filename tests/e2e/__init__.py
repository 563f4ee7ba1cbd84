"""End-to-end tests: a real server process, real HTTP, both databases."""
