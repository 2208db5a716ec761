-- 1.3.0: structured event stream per execution.
CREATE TABLE execution_events (
    id            BIGSERIAL PRIMARY KEY,
    execution_id  UUID NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    event_type    TEXT NOT NULL,
    payload       JSONB NOT NULL DEFAULT '{}'::jsonb,
    recorded_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_execution_events_execution_id ON execution_events (execution_id);
