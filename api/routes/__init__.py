"""The API's routers, one module per resource (the full-stack FastAPI template's api/routes/):
they declare paths, roles, bodies and answers, and call api/services/ for the rest."""
