"""Loading landed files into raw_<source>.<table> through the load ledger (audit.load_ledger)."""
