"""Course build tools (instructor side): releases, the demo class, the grade table."""
