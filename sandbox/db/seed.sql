-- Seed rows of the sandbox baseline (schema 1.2.0). Loaded by sandbox.sh after the 1.2.0
-- runtime has applied its migrations. Fixed ids so tests can look rows up.
BEGIN;

INSERT INTO agents (id, name, version, status, manifest) VALUES
  ('a0000000-0000-4000-8000-000000000001', 'code-reviewer', '0.4.2', 'active',
   '{"runtime":"python:3.12","tools":["git","fs.read"]}'),
  ('a0000000-0000-4000-8000-000000000002', 'incident-triage', '0.2.0', 'active',
   '{"runtime":"node:20","tools":["http.get"]}'),
  ('a0000000-0000-4000-8000-000000000003', 'docs-writer', '0.1.5', 'paused',
   '{"runtime":"python:3.12","tools":["fs.write"]}')
ON CONFLICT (id) DO NOTHING;

INSERT INTO workflows (id, name, definition, version) VALUES
  ('b0000000-0000-4000-8000-000000000001', 'review-pull-request',
   '{"steps":["checkout","review","comment"]}', 3),
  ('b0000000-0000-4000-8000-000000000002', 'nightly-triage',
   '{"steps":["collect","classify","report"]}', 1)
ON CONFLICT (id) DO NOTHING;

INSERT INTO executions (id, agent_id, status, input, output, started_at, finished_at) VALUES
  ('c0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000001', 'completed',
   '{"pr":101}', '{"verdict":"approve"}', '2026-11-20 09:00:00+00', '2026-11-20 09:02:10+00'),
  ('c0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000001', 'failed',
   '{"pr":102}', '{"error":"timeout"}', '2026-11-21 10:15:00+00', '2026-11-21 10:20:00+00'),
  ('c0000000-0000-4000-8000-000000000003', 'a0000000-0000-4000-8000-000000000002', 'completed',
   '{"incident":"INC-7"}', '{"severity":"low"}', '2026-11-22 23:30:00+00', '2026-11-22 23:31:05+00'),
  ('c0000000-0000-4000-8000-000000000004', 'a0000000-0000-4000-8000-000000000002', 'running',
   '{"incident":"INC-8"}', NULL, '2026-11-25 18:00:00+00', NULL)
ON CONFLICT (id) DO NOTHING;

COMMIT;
