"""The catalog: one module per kind (what it declares: options, ports, outputs, env, how it runs)."""
