"""Synthetic landing-zone generator (see ``orchestration.generate``).

Modules:
  core      - timeline, random streams, ids, vectorised time helpers
  schema    - the landing contract (columns per table) and dirty-row rules
  names     - synthetic names, companies, emails
  crm, billing, finance - simulations producing record *versions*
  landing   - versions -> extract batches -> dirty rows -> CSV files + manifest
"""
