"""Search: 1:N identification, 1:1 verification, and the calibration that gives scores meaning."""
