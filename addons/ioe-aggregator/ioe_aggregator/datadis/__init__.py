"""Datadis, the distributors' data platform: its client, the sync ledger and the sync itself."""
