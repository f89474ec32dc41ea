"""Every Strands Agent the process builds, recorded as it is built.

Lambda reuses a warm process for the next caller, and a Strands Agent keeps its conversation in
memory. Wherever the agent's code holds an agent (a module global, one built lazily on the first
call, an lru_cache, a class attribute, a closure, a submodule, an agent used as a tool, the agents
of a Swarm or Graph), it was built by `Agent.__init__`. So that is where agents are recorded:
`track()` wraps `strands.agent.agent.Agent.__init__` before the agent's code runs (at once when
Strands is already imported, otherwise the moment it is), and each agent's state right after it
was built is kept. `restore_all()` puts every live agent back to that state before each request.

Each agent has a stable key, used by sessions to store and find its state: its `agent_id` when one
was given, else its `name`, and when several share that, `#2`, `#3`, ... in build order. Agents
built at import are counted once; agents built while a request runs are counted anew in each
request (after the import-built ones), so a lazily built agent gets the same key in every process.
"""

import copy
import functools
import logging
import weakref

from . import hooks, metrics

_AGENT_MODULE = "strands.agent.agent"
_DEFAULT_AGENT_ID = "default"

logger = logging.getLogger("agentdeploy.runtime")


class Tracked:
    """One agent: a weak reference (an agent the code dropped is not kept alive), its key, and its
    state right after it was built."""

    __slots__ = ("ref", "key", "initial", "__weakref__")

    def __init__(self, agent, key):
        self.ref = weakref.ref(agent, _forget)
        self.key = key
        self.initial = take_state(agent)


_tracked = []  # Tracked, in build order
_counts_at_import = {}  # key base -> agents built at import
_counts = {}  # key base -> agents built so far in this phase (import, or the current request)
_in_request = False
# Agents built while the current request runs, kept alive until it ends: one built and dropped
# inside `main` (a new agent per call) is gone before the session is saved otherwise.
_built_in_request = []
# Called with (tracked, agent) for each agent built while a request runs (sessions load its
# stored state there: it may not exist yet when the request starts).
_on_built = []


def _forget(ref):
    _tracked[:] = [t for t in _tracked if t.ref is not ref]


def _key_base(agent):
    agent_id = getattr(agent, "agent_id", None)
    if agent_id and agent_id != _DEFAULT_AGENT_ID:
        return str(agent_id)
    return str(getattr(agent, "name", None) or "agent")


def _record(agent):
    base = _key_base(agent)
    count = _counts.get(base, 0) + 1
    _counts[base] = count
    tracked = Tracked(agent, base if count == 1 else f"{base}#{count}")
    _tracked.append(tracked)
    if _in_request:
        _built_in_request.append(agent)
        for callback in _on_built:
            callback(tracked, agent)


def _wrap(agent_class):
    original = agent_class.__init__
    if getattr(original, "_agentdeploy_tracks", False):
        return

    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        # A subclass calls this through super().__init__: record the agent once, as built.
        if not getattr(self, "_agentdeploy_recorded", False):
            self._agentdeploy_recorded = True
            metrics.attach(self)
            _record(self)

    __init__._agentdeploy_tracks = True
    agent_class.__init__ = __init__


def track():
    """Records every Agent built from now on. Cheap when the agent never imports Strands."""
    hooks.after_import(_AGENT_MODULE, lambda module: _wrap(module.Agent))


def import_done():
    """The agent's module has run: what it built is counted once, requests count after it."""
    global _counts_at_import
    _counts_at_import = dict(_counts)


def begin_request():
    """Every live agent back to its state as built; keys of agents built from here on count anew."""
    global _in_request, _counts
    _in_request = True
    _counts = dict(_counts_at_import)
    for tracked in list(_tracked):
        agent = tracked.ref()
        if agent is not None:
            restore_state(agent, tracked.initial)


def end_request():
    global _in_request
    _in_request = False
    _built_in_request.clear()


def live():
    """(tracked, agent) for every agent still alive, in build order."""
    pairs = []
    for tracked in list(_tracked):
        agent = tracked.ref()
        if agent is not None:
            pairs.append((tracked, agent))
    return pairs


def take_state(agent):
    """What carries an agent's conversation: a Strands snapshot (messages, state, conversation
    manager, interrupts, model state), or on releases before snapshots, messages and state."""
    if hasattr(agent, "take_snapshot"):
        try:
            return ("snapshot", agent.take_snapshot(preset="session", include=["model_state"]))
        except Exception:  # a release whose snapshots do not know model_state
            return ("snapshot", agent.take_snapshot(preset="session"))
    state = agent.state.get() if hasattr(agent.state, "get") else None
    return ("copy", (copy.deepcopy(agent.messages), copy.deepcopy(state)))


def restore_state(agent, saved):
    how, value = saved
    if how == "snapshot":
        agent.load_snapshot(value)
        return
    messages, state = value
    agent.messages = copy.deepcopy(messages)
    if state is not None:
        agent.state = type(agent.state)(copy.deepcopy(state))


def dump_state(agent):
    """The agent's state now, as JSON can carry it."""
    how, value = take_state(agent)
    if how == "snapshot":
        return {"snapshot": value.to_dict()}
    messages, state = value
    return {"messages": messages, "state": state}


def load_state(agent, stored):
    if "snapshot" in stored:
        from strands.types._snapshot import Snapshot

        restore_state(agent, ("snapshot", Snapshot.from_dict(stored["snapshot"])))
    else:
        restore_state(agent, ("copy", (stored.get("messages", []), stored.get("state"))))
