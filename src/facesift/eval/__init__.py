"""Accuracy measurement on labelled datasets (LFW): verification, identification, calibration."""
