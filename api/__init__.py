"""The HTTP API of CONTRACT.md: loan-system, collector, supervisor and auditor endpoints."""
