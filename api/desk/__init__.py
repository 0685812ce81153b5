"""The collectors' desk (issue 15): a server-rendered web application under `/desk/` inside the
API app, for collectors, supervisors and auditors. It reaches accounts and tasks only through the
API's own route functions and services (api/routes, api/services), so every rule, validator and
workflow update is the JSON API's; the only table it writes itself is the staff users table."""
