"""What the pages share, one concern per module (the module map is docs/ARCHITECTURE.md)."""
