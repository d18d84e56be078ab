"""``make bench``: the figures behind cfcd's claims, measured on this machine.

Release overhead and detection lag on the local cloud, state transitions and dollars per release,
Lambda cold start against a bare ``import boto3``, package sizes, and edge throughput. Figures,
not timed tests: every run prints the table, states missed goals, and writes ``bench/results.json``.
"""
