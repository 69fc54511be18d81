# lib/core
