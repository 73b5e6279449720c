"""Network analysis: ties in, plain data out.

The modules directly in this package are the pure analysis (graph, metrics, communities,
roles, network, champions, diffusion, diff, privacy, pipeline, model, results, ...): they
read no file, write no file and render nothing. Everything that touches files or draws
(reading ``ties.csv`` / ``people.csv``, writing ``metrics.json``, GEXF, GraphML, the picture,
the HTML report, and the ``peerpulse analyze`` command) lives in :mod:`analytics.report`.

Dependency rule: :mod:`analytics.report` imports the pure modules, never the other way
round; no pure module imports :mod:`analytics.report` (checked by an import-linter contract).
"""
