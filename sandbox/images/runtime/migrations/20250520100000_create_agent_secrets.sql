-- 1.4.0: references to secrets stored in OpenBao.
CREATE TABLE agent_secret_refs (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id    UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    secret_path TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (agent_id, secret_path)
);
