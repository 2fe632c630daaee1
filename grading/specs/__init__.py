"""Hidden checks, one module per assignment (teacher-only; never shipped, never mounted in the sandbox)."""
