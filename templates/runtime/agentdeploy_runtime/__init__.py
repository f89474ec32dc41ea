"""agentdeploy's runtime, shipped beside the generated handler: conversation isolation, sessions
and the mapping of Lambda events to the agent's entry. Lambda calls `agentdeploy_bootstrap`, which
calls `track()` before the agent's code runs; the handler's last lines hand the entry to
`make_handler`."""

from .agents import track
from .handler import make_handler

__all__ = ["make_handler", "track"]
