"""Reproducible performance runs of ims_geo and the peers it is compared with."""
