"""ORM models; importing this package registers them all on Base.metadata."""
