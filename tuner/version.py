"""The version of tuner, in one place (the package, plan files and history rows read it)."""

__version__ = "0.1.0"
