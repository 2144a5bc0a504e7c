"""A Django host project on syncjobs: ask for a report, its job runs once the request commits.

See README.md in this folder and docs/examples.md. The project is also its own Django app
(the ``Report`` model).
"""
