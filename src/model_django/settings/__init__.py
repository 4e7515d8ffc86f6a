"""Settings split by concern: base (shared), production, dev (make serve) and test."""
