"""Training shared by every learned stage: schedules, the loop, devices, checkpoints."""
