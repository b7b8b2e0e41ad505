"""Run log stores, catalogs and secrets: one module per backend, registered by name."""
