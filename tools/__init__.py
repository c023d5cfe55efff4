"""Development tooling run by the Makefile."""
