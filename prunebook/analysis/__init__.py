"""From results to verdicts: statistics (`stats`, `bootstrap`), normalisation
(`normalization`, `atari_scores`), the claims and their rules (`claims`, `claims_table`) and the
shared plotting helpers (`plots`)."""
