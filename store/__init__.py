"""The read model: what collectors, dashboards and reports read instead of workflow history."""
