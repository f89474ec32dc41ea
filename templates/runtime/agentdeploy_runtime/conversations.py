"""Whose conversation a request continues: `isolated` (each request starts from the agents as
built), `session` (continued from the caller's stored session and saved after the answer) or
`shared` (the process's agents, as the author wrote them)."""

from . import agents, names, sessions


class Conversations:
    def __init__(self, mode, endpoint):
        self.mode = mode
        self.isolated = mode in ("isolated", "session")
        self.with_sessions = mode == "session"
        self.endpoint = endpoint
        # Only an API's events carry the stack's origin; read once per cold start.
        self._origin = (sessions.origin(names.ORIGIN_VARIABLE)
                        if self.with_sessions and endpoint == "api" else "")

    def begin_request(self):
        if self.isolated:
            agents.begin_request()

    def end_request(self):
        agents.end_request()

    def owner(self, event):
        """The caller's identity in `event`; raises NoCallerIdentity when none can be believed."""
        return sessions.caller(event, self.endpoint, self._origin, names.ORIGIN_STAGE_VARIABLE)

    def open(self, owner, session_id):
        """The caller's session, loaded (close it once the request has ended)."""
        session = sessions.Session(sessions.object_key(owner, session_id), sessions.store())
        session.load()
        return session
