"""Accounts: registration, profiles, administration, the first admin."""

from backend.services.users.repository import UserRepository
from backend.services.users.service import UserService

__all__ = ["UserRepository", "UserService"]
