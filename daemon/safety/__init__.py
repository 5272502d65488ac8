"""Target selection, the blast-radius guard and stop conditions: what keeps chaos bounded."""
