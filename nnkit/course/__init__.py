"""Course content and the nbgrader flow: source notebooks, release, autograde, feedback."""
