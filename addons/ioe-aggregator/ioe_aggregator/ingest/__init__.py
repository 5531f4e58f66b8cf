"""Data in from the homes: their readings batches and live reports, and whether they are online.

``writer.py`` stores the batches (``plausibility.py`` leaves out what a member's meters cannot
have measured) and keeps the latest live reports; ``mqtt.py`` takes the batches from the broker
and acknowledges them; ``status.py`` follows each member's online status.
"""
