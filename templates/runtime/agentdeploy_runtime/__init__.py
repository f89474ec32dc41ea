"""agentdeploy's runtime, shipped beside the generated handler: conversation isolation, sessions,
the mapping of Lambda events to the agent's entry, and for functions behind the Lambda Web
Adapter, the server that streams answers. Lambda calls `agentdeploy_bootstrap` (or, behind the
adapter, runs `agentdeploy_serve`), which calls `track()` before the agent's code runs; the
handler's last lines hand the entry to `make_handler` (or `make_app`)."""

from . import agents, metrics
from .handler import make_handler
from .streaming import make_app, neutralise_servers


def track():
    """Records every Strands Agent built from now on, and counts its tokens and tool calls."""
    metrics.track()
    agents.track()


__all__ = ["make_app", "make_handler", "neutralise_servers", "track"]
