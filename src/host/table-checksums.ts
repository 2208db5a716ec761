import type { Deployment } from './deployment';

/** A cluster's content as SQL sees it: its roles, and per database per table the rows and a checksum of them. */
export interface ClusterFingerprint {
  roles: string[];
  databases: { name: string; tables: TableFingerprint[] }[];
}

export interface TableFingerprint {
  /** `schema.table`, quoted as `format('%I.%I')` quotes it. */
  name: string;
  rows: number;
  /** md5 of every row's text, in the order of their text in the C collation. */
  md5: string;
}

/**
 * Counts and checksums every user table of the database in one psql call: a session-local function runs the query of
 * each table (not query_to_xml: a server built without libxml, as the PostgreSQL 16 of the sandbox is, lacks it). Rows
 * are ordered in the C collation: the two majors may run on other libcs, whose collations order text otherwise.
 */
const TABLE_FINGERPRINTS = `
create function pg_temp.aegis_table_fingerprint(schema_name name, table_name name, out n bigint, out h text)
language plpgsql as $fingerprint$
begin
  execute format(
    'select count(*), md5(coalesce(string_agg(t::text, '''' order by t::text collate "C"), '''')) from %I.%I t',
    schema_name, table_name) into n, h;
end
$fingerprint$;
select format('%I.%I', n.nspname, c.relname), f.n, f.h
from pg_class c join pg_namespace n on n.oid = c.relnamespace,
     lateral pg_temp.aegis_table_fingerprint(n.nspname, c.relname) f
where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_t(oast|emp)'
order by 1`;

/** Read with the database container's own psql, so it reads either major alike. */
export async function fingerprintCluster(deployment: Deployment): Promise<ClusterFingerprint> {
  const rows = (text: string) => text.split('\n').filter(Boolean);
  const roles = rows(
    await deployment.psql('postgres', "select rolname from pg_roles where rolname !~ '^pg_' order by 1"),
  );
  const names = rows(
    await deployment.psql(
      'postgres',
      'select datname from pg_database where datallowconn and not datistemplate order by 1',
    ),
  );
  const databases = [];
  for (const name of names) {
    // psql also prints the function's command tag (CREATE FUNCTION): a table's line has three fields.
    const tables = rows(await deployment.psql(name, TABLE_FINGERPRINTS))
      .map((line) => line.split('|'))
      .filter((fields) => fields.length === 3)
      .map(([table = '', count = '0', md5 = '']) => ({ name: table, rows: Number(count), md5 }));
    databases.push({ name, tables });
  }
  return { roles, databases };
}

/** Every difference between the cluster before and its copy, one line each; none when they are identical. */
export function fingerprintDifferences(before: ClusterFingerprint, after: ClusterFingerprint): string[] {
  const missing = (kind: string, a: readonly string[], b: readonly string[]) =>
    a.filter((name) => !b.includes(name)).map((name) => `${kind} ${name} is missing from the new cluster`);
  const differences = [...missing('role', before.roles, after.roles)];
  for (const database of before.databases) {
    const copy = after.databases.find((candidate) => candidate.name === database.name);
    if (!copy) {
      differences.push(`database ${database.name} is missing from the new cluster`);
      continue;
    }
    for (const table of database.tables) {
      const other = copy.tables.find((candidate) => candidate.name === table.name);
      if (!other) differences.push(`table ${database.name}/${table.name} is missing from the new cluster`);
      else if (other.rows !== table.rows) {
        differences.push(`table ${database.name}/${table.name} has ${other.rows} rows, had ${table.rows}`);
      } else if (other.md5 !== table.md5) {
        differences.push(`table ${database.name}/${table.name} has other content (md5 ${other.md5}, had ${table.md5})`);
      }
    }
    const names = database.tables.map((table) => table.name);
    for (const table of copy.tables.filter((candidate) => !names.includes(candidate.name))) {
      differences.push(`table ${database.name}/${table.name} is new in the new cluster`);
    }
  }
  return differences;
}

/** `3 databases, 41 tables (12345 rows), 2 roles`. */
export function describeFingerprint({ roles, databases }: ClusterFingerprint): string {
  const tables = databases.flatMap((database) => database.tables);
  const rows = tables.reduce((sum, table) => sum + table.rows, 0);
  return `${databases.length} databases, ${tables.length} tables (${rows} rows), ${roles.length} roles`;
}
