"""Offline tools of the radio: BLER/BER curves, the waterfall simulation and the table builder.

Nothing here runs during a scenario; ``semlink channel curve|tables`` call these.
"""
