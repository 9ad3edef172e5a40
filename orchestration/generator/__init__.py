"""Synthetic landing-zone generator (CLI: ``python -m orchestration.generate``).

Modules:
  core      timeline (monthly extracts, mid-month last extract, extra day), random streams, ids, time maths
  schema    the landing contract as data: columns, kinds, keys, which bad-row rules apply where
  names     synthetic people, companies, emails
  world     the simulation state: parameters and the record versions collected per table
  crm, billing, finance   the simulations, producing record *versions* (row + time it became visible)
  landing   versions -> extract batches -> injected dirty rows -> CSV/Parquet files, manifest figures
  badfiles  file-level bad inputs for --bad-files
"""
