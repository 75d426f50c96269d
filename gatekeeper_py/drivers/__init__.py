"""Policy engines behind one interface (see base.Driver)."""
