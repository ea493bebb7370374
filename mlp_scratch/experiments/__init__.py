"""The experiments of a course or a report: each is a function that writes its tables (CSV and
JSON) and figures (PNG) into an output folder and returns its summary, with a ``main`` that
``scripts/`` runs from the command line."""
