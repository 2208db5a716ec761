-- 1.3.1: agents become tenant-scoped.
ALTER TABLE agents ADD COLUMN tenant_slug TEXT NOT NULL DEFAULT 'aegis-system';

CREATE INDEX idx_agents_tenant_slug ON agents (tenant_slug);
