-- 1.3.1: link executions to runtime records.
-- Broken on purpose in the sandbox: it references a table that no migration creates,
-- so the runtime fails part-way through its migrations (after the previous one committed).
ALTER TABLE executions ADD COLUMN runtime_id UUID;

UPDATE executions e
   SET runtime_id = r.id
  FROM agent_runtimes r
 WHERE r.agent_id = e.agent_id;
