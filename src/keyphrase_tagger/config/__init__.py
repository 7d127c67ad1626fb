"""The commands' configs checked before any work: the schemas (``schema``), the generic checks
(``checking``) and one ``validate_*_config`` per command (``validate``)."""
