"""Governance: roles, audit trail, retention, subject rights, erasure, records of processing."""
