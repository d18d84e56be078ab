"""The operator's side of cfcd, as plain functions: where to talk to, a release's input, an
execution's view, a captured mail's links.

The CLI (:mod:`cfcd.cli`) and the demo (:mod:`cfcd.demo`) both build on it; it knows neither of
them and imports no click.
"""
