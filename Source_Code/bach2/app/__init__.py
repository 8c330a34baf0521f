"""The applications on top: the ``bach2`` command line, one module per command group, and the studio."""
