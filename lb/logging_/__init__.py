"""Implementation of :mod:`lb.log`; import from ``lb.log``."""
