"""Reproductions of the SSLC paper's tables on top of the hardware model (not part of it)."""
