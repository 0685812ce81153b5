"""The portfolio simulator (`arrears simulate`): synthetic borrowers through the real workflows in
virtual time, and the scoreboard of what happened."""
