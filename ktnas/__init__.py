"""ktnas: multi-task evolutionary NAS with architecture embedding and transfer rank."""

__version__ = "0.2.0"
