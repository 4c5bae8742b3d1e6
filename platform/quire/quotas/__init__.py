"""Quotas: per-site, per-team and per-user limits on kernels and Spark, set by admins."""
