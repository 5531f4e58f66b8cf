"""Development helpers shared by the tests, the demo and the benchmarks.

They run real programs (Mosquitto, the aggregator, Home Assistant) on this machine; nothing
here ships to users.
"""
