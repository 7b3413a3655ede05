"""Certificates, trust and identities: the pure side of zkop security."""
