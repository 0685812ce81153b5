"""The code behind the API's dependencies and routes: what more than one route needs (the
episode's handle and updates, onboarding, access, amounts, tasks), kept out of the route modules
so that no route imports another."""
