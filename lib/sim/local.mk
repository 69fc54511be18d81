# lib/sim
