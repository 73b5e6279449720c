"""File input/output and rendering around the pure analysis: the analytics' edge.

- :mod:`analytics.report.io`: read and write ``ties.csv`` and ``people.csv``.
- :mod:`analytics.report.outputs`: write one analysis into a folder (``metrics.json``,
  ``people.csv``, GEXF, GraphML, ``network.png``, ``report.html``).
- :mod:`analytics.report.draw`: the network picture.
- :mod:`analytics.report.html`: the self-contained HTML report (``templates/``).
- :mod:`analytics.report.cli`: ``peerpulse analyze``.

These import the pure analysis modules of :mod:`analytics`; none of those imports this
package. Nothing is imported here, so reading a CSV does not load matplotlib or jinja2.
"""
