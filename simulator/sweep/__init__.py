"""Design-space sweeps: YAML specs -> points -> a local pool or Dask -> SQLite results.

`spec` (schema, axis expansion, up-front validation), `worker` (one point -> one row),
`store` (SQLite, CSV/Parquet export), `executors` (local / Dask), `run` (the driver).
"""
