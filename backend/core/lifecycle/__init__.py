"""Application lifecycle."""

from backend.core.lifecycle.manager import ApplicationLifecycleManager, LifecycleState

__all__ = ["ApplicationLifecycleManager", "LifecycleState"]
