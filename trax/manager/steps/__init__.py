"""The manager cycle's steps, one module each, run in the order of ``trax.manager.cycle``."""
