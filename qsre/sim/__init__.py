"""Simulated quantum backends with drifting noise and injectable faults.

Import from the modules (``qsre.sim.backend``, ``qsre.sim.config``, ``qsre.sim.world``,
...): this package imports nothing itself, so that checking a config file
(``qsre.sim.config``) does not load Aer.
"""
