"""The science of each claim: one compute module per claim (and one for its figures)."""
