"""Results out: each member's results and the community's state and signal, computed and published.

``engine.py`` computes them from the stored readings and agreements, as typed messages;
``publisher.py`` publishes them retained every minute and when due; ``discovery.py`` gives the
manager's Home Assistant the community's sensors (MQTT discovery) and says whether the
aggregator is online.
"""
