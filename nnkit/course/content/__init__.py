"""Prose and checks of the assignments (solution code comes from reference/)."""
