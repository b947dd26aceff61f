"""RedFire's domain vocabulary: plain values shared by services, independent of any gateway."""
