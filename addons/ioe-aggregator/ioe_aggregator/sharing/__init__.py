"""The sharing engine: coefficients (β), allocation, KPIs, economics and the distributor's file.

Pure functions over pandas/numpy data; no Home Assistant, no I/O inside the computations
(reading and writing files lives in ``files`` and the command line in ``commands``).
"""
