"""Signal sleeves: pure, synchronous, O(1)-per-bar strategies that turn bars into targets.

Each sleeve keeps per-symbol state and answers ``update(bar) -> SleeveSignal`` with a target
in [-1, 1] and a confidence in [0, 1]. Sleeves do no I/O and read no clock, so replay and live
produce the same signals from the same bars.
"""
