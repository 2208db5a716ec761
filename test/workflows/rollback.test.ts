import { isImageTag, type PodName } from '../../src/core/platform';
import {
  lockNotReleased,
  manualRollbackSteps,
  planRollback,
  rollbackPinTag,
  type RollbackStep,
  type UpgradeChanges,
} from '../../src/workflows/rollback';

const BACKUP = { location: '/srv/aegis-deploy/backups/20261126T030000Z-1.2.0-to-1.3.0', files: [] };

function changes(overrides: Partial<UpgradeChanges> = {}): UpgradeChanges {
  return {
    previousTag: '1.2.0',
    profile: 'development',
    pinTag: 'aegis-rollback-upgrade-1.3.0',
    tagChanged: true,
    redeployedPods: [],
    fullRedeploy: false,
    backup: BACKUP,
    ...overrides,
  };
}

const ids = (steps: { id: string }[]) => steps.map((step) => step.id);

describe('planRollback', () => {
  it('puts the tag back first, then the database pod, restores, redeploys the others in reverse, validates last', () => {
    const plan = planRollback(changes({ redeployedPods: ['database', 'core', 'temporal'] }), 'auto');

    expect(ids(plan)).toEqual([
      'rollback:tag',
      'rollback:redeploy:database',
      'rollback:database',
      'rollback:redeploy:temporal',
      'rollback:redeploy:core',
      'rollback:writers',
      'rollback:validate',
    ]);
    expect(plan.map((step) => step.kind)).toEqual([
      'restore-tag',
      'redeploy',
      'restore-database',
      'redeploy',
      'redeploy',
      'resume-writers',
      'validate',
    ]);
  });

  it('brings the database pod back before every pod that uses it, wherever the upgrade stopped', () => {
    const plan = planRollback(
      changes({ redeployedPods: ['database', 'core', 'temporal', 'seal-gateway', 'observability'] }),
      'never',
    );

    expect(ids(plan)).toEqual([
      'rollback:tag',
      'rollback:redeploy:database',
      'rollback:redeploy:observability',
      'rollback:redeploy:seal-gateway',
      'rollback:redeploy:temporal',
      'rollback:redeploy:core',
      'rollback:validate',
    ]);
  });

  it('names the previous tag in the tag step and the pod in each redeploy step', () => {
    const [tag, ...rest] = planRollback(changes({ redeployedPods: ['seal-gateway'] }), 'auto');

    expect(tag?.title).toContain('1.2.0');
    expect(rest[0]).toMatchObject({ kind: 'redeploy', pod: 'seal-gateway' });
  });

  it('plans nothing when nothing was changed', () => {
    expect(planRollback(changes({ tagChanged: false }), 'always')).toEqual([]);
  });

  it('only puts the tag back and validates when the tag changed but no pod was redeployed', () => {
    expect(ids(planRollback(changes(), 'auto'))).toEqual(['rollback:tag', 'rollback:validate']);
  });

  it('never restores the database under the policy `never`', () => {
    const plan = planRollback(changes({ redeployedPods: ['database', 'core'] }), 'never');

    expect(plan.some((step) => step.kind === 'restore-database')).toBe(false);
    expect(ids(plan)).toEqual([
      'rollback:tag',
      'rollback:redeploy:database',
      'rollback:redeploy:core',
      'rollback:validate',
    ]);
  });

  it('restores nothing without a backup, whatever the policy', () => {
    const plan = planRollback(changes({ redeployedPods: ['core'], backup: undefined }), 'always');

    expect(plan.some((step) => step.kind === 'restore-database')).toBe(false);
  });

  it('does not restore under `auto` when the runtime was never redeployed', () => {
    const plan = planRollback(changes({ redeployedPods: ['database'] }), 'auto');

    expect(ids(plan)).toEqual(['rollback:tag', 'rollback:redeploy:database', 'rollback:validate']);
  });

  it('redeploys core after a restore even when the upgrade never reached it', () => {
    const plan = planRollback(changes({ redeployedPods: ['database'] }), 'always');

    expect(ids(plan)).toEqual([
      'rollback:tag',
      'rollback:redeploy:database',
      'rollback:database',
      'rollback:redeploy:core',
      'rollback:writers',
      'rollback:validate',
    ]);
  });

  it('restores the database beside the tag, unless the database pod comes back between them', () => {
    const beside = (plan: RollbackStep[]) => plan.filter((step) => step.besidePrevious).map((step) => step.id);

    expect(beside(planRollback(changes({ redeployedPods: ['core'] }), 'auto'))).toEqual(['rollback:database']);
    expect(beside(planRollback(changes({ redeployedPods: ['database', 'core'] }), 'auto'))).toEqual([]);
  });

  it('redeploys core once when the upgrade had redeployed it', () => {
    const plan = planRollback(changes({ redeployedPods: ['database', 'core'] }), 'always');

    expect(ids(plan).filter((id) => id === 'rollback:redeploy:core')).toHaveLength(1);
  });

  it('deploys the whole profile again after a full redeploy, restoring the database first', () => {
    const plan = planRollback(changes({ fullRedeploy: true, redeployedPods: [] }), 'auto');

    expect(ids(plan)).toEqual([
      'rollback:tag',
      'rollback:database',
      'rollback:deploy',
      'rollback:writers',
      'rollback:validate',
    ]);
    expect(plan.some((step) => step.kind === 'redeploy')).toBe(false);
  });

  it('starts the writers again when the final dump stopped them, even without a restore', () => {
    const plan = planRollback(changes({ writersStopped: true }), 'never');

    expect(ids(plan)).toEqual(['rollback:tag', 'rollback:writers', 'rollback:validate']);
  });

  it("puts the host's binary back after the runtime is, once the upgrade replaced it, and only then", () => {
    const kept = { copy: `${BACKUP.location}/host/aegis`, version: 'aegis 1.2.0' };
    const replaced = planRollback(changes({ redeployedPods: ['core'], hostCli: kept, hostCliChanged: true }), 'never');
    const notYet = planRollback(changes({ redeployedPods: ['core'], hostCli: kept }), 'never');
    const noneKept = planRollback(changes({ redeployedPods: ['core'], hostCli: {}, hostCliChanged: true }), 'never');
    const full = planRollback(changes({ fullRedeploy: true, hostCli: kept, hostCliChanged: true }), 'never');

    expect(ids(replaced)).toEqual(['rollback:tag', 'rollback:redeploy:core', 'rollback:host-cli', 'rollback:validate']);
    expect(replaced.find((step) => step.kind === 'restore-host-cli')?.title).toBe(
      'Put aegis 1.2.0 back in bin/aegis, restart aegis-fuse-daemon',
    );
    expect(ids(notYet)).not.toContain('rollback:host-cli');
    expect(ids(noneKept)).not.toContain('rollback:host-cli');
    expect(ids(full)).toEqual(['rollback:tag', 'rollback:deploy', 'rollback:host-cli', 'rollback:validate']);
    expect(
      manualRollbackSteps(
        changes({ redeployedPods: ['core'], hostCli: kept, hostCliChanged: true }),
        ['rollback:tag', 'rollback:redeploy:core'],
        'never',
        'default',
      ),
    ).toEqual([
      `install -m 0755 ${kept.copy} bin/aegis.new && mv bin/aegis.new bin/aegis`,
      'systemctl --user restart aegis-fuse-daemon',
      'make validate',
      'aegis-upgrade unlock --env default --reason "rolled back by hand"',
    ]);
  });

  it('leaves the recorded pods as they were', () => {
    const redeployedPods: PodName[] = ['database', 'core'];

    planRollback(changes({ redeployedPods }), 'auto');

    expect(redeployedPods).toEqual(['database', 'core']);
  });
});

describe('manualRollbackSteps', () => {
  const failedAtCore = changes({ redeployedPods: ['database', 'core'] });

  it('gives the commands of every step not done, in order, then removes the lock', () => {
    const commands = manualRollbackSteps(failedAtCore, [], 'auto', 'default');

    expect(commands[0]).toBe("sed -i 's/^AEGIS_IMAGE_TAG=.*/AEGIS_IMAGE_TAG=1.2.0/' .env");
    expect(commands.slice(1, 7)).toEqual([
      'make redeploy POD=database',
      'podman stop --ignore aegis-core-aegis-runtime aegis-temporal-temporal-worker',
      `(umask 077 && mkdir -p ${BACKUP.location}/pre-restore && if podman exec aegis-database-postgres psql -X -v ON_ERROR_STOP=1 -U aegis -d postgres -Atc "select 1 from pg_database where datname = 'aegis'" | grep -q 1; then podman exec aegis-database-postgres pg_dump -U aegis -Fc aegis > ${BACKUP.location}/pre-restore/aegis.manual-$(date -u +%Y%m%dT%H%M%SZ).dump; fi)`,
      'podman exec aegis-database-postgres psql -X -v ON_ERROR_STOP=1 -U aegis -d postgres -c "drop database if exists aegis__restoring with (force)" -c "create database aegis__restoring owner aegis"',
      `podman exec -i aegis-database-postgres pg_restore -U aegis -d aegis__restoring --single-transaction --exit-on-error < ${BACKUP.location}/aegis.dump`,
      'podman exec aegis-database-postgres psql -X -v ON_ERROR_STOP=1 -U aegis -d postgres -c "drop database if exists aegis with (force)" -c "alter database aegis__restoring rename to aegis"',
    ]);
    expect(commands.slice(7)).toEqual([
      'make redeploy POD=core',
      'for c in aegis-core-aegis-runtime aegis-temporal-temporal-worker; do if podman container exists $c; then podman start $c; fi; done',
      'make validate',
      'aegis-upgrade unlock --env default --reason "rolled back by hand"',
    ]);
  });

  it('restores the final dump when it was taken: nothing the old runtime wrote before it is lost', () => {
    const file = { name: 'final/aegis.dump', bytes: 1, sha256: 'ab' };
    const withFinal = changes({
      redeployedPods: ['core'],
      writersStopped: true,
      backup: { ...BACKUP, final: { takenAt: '2026-11-26T03:10:00.000Z', files: [file] } },
    });

    const commands = manualRollbackSteps(withFinal, ['rollback:tag'], 'auto', 'default');

    expect(commands).toContain(
      `podman exec -i aegis-database-postgres pg_restore -U aegis -d aegis__restoring --single-transaction --exit-on-error < ${BACKUP.location}/final/aegis.dump`,
    );
    expect(commands.join('\n')).not.toContain(`< ${BACKUP.location}/aegis.dump`);
  });

  it('skips the steps the rollback already did', () => {
    const commands = manualRollbackSteps(
      failedAtCore,
      ['rollback:tag', 'rollback:redeploy:database', 'rollback:database'],
      'auto',
      'default',
    );

    expect(commands).toEqual([
      'make redeploy POD=core',
      'for c in aegis-core-aegis-runtime aegis-temporal-temporal-worker; do if podman container exists $c; then podman start $c; fi; done',
      'make validate',
      'aegis-upgrade unlock --env default --reason "rolled back by hand"',
    ]);
  });

  const PINNED = [
    'ghcr.io/100monkeys-ai/aegis-runtime:aegis-rollback-upgrade-1.3.0',
    'ghcr.io/100monkeys-ai/aegis-seal-gateway:aegis-rollback-upgrade-1.3.0',
  ];

  it('points the previous tag back at the pinned images before naming it in .env, as the rollback does', () => {
    const commands = manualRollbackSteps(changes({ pinnedImages: PINNED }), [], 'auto', 'default');

    expect(commands.slice(0, 3)).toEqual([
      'podman tag ghcr.io/100monkeys-ai/aegis-runtime:aegis-rollback-upgrade-1.3.0 ghcr.io/100monkeys-ai/aegis-runtime:1.2.0',
      'podman tag ghcr.io/100monkeys-ai/aegis-seal-gateway:aegis-rollback-upgrade-1.3.0 ghcr.io/100monkeys-ai/aegis-seal-gateway:1.2.0',
      "sed -i 's/^AEGIS_IMAGE_TAG=.*/AEGIS_IMAGE_TAG=1.2.0/' .env",
    ]);
  });

  it('after `latest`, names the pinned images in .env: the registry may have moved `latest` to the new release', () => {
    const commands = manualRollbackSteps(
      changes({ previousTag: 'latest', pinnedImages: PINNED, redeployedPods: ['core'] }),
      [],
      'never',
      'default',
    );

    expect(commands).toEqual([
      "sed -i 's/^AEGIS_IMAGE_TAG=.*/AEGIS_IMAGE_TAG=aegis-rollback-upgrade-1.3.0/' .env",
      'make redeploy POD=core',
      'make validate',
      'aegis-upgrade unlock --env default --reason "rolled back by hand"',
    ]);
    expect(commands.join('\n')).not.toContain('AEGIS_IMAGE_TAG=latest');
  });

  it('still removes the lock when every step was done', () => {
    const done = ids(planRollback(failedAtCore, 'auto'));

    expect(manualRollbackSteps(failedAtCore, done, 'auto', 'default')).toEqual([
      'aegis-upgrade unlock --env default --reason "rolled back by hand"',
    ]);
  });

  it('gives teardown and deploy after a full redeploy', () => {
    const commands = manualRollbackSteps(
      changes({ fullRedeploy: true, backup: undefined }),
      ['rollback:tag'],
      'auto',
      'default',
    );

    expect(commands).toEqual([
      'make teardown PROFILE=development',
      'make deploy PROFILE=development',
      'make bootstrap-secrets',
      'make validate',
      'aegis-upgrade unlock --env default --reason "rolled back by hand"',
    ]);
  });

  it('connects, dumps, restores and owns as the POSTGRES_USER the backup was taken as, not `aegis`', () => {
    const commands = manualRollbackSteps(
      changes({ redeployedPods: ['core'], backup: { ...BACKUP, role: 'platform_admin' } }),
      ['rollback:tag'],
      'auto',
      'default',
    ).join('\n');

    expect(commands.match(/-U \S+/g)).toEqual(Array(5).fill('-U platform_admin'));
    expect(commands).toContain('create database aegis__restoring owner platform_admin"');
    expect(commands).not.toMatch(/-U aegis|owner aegis/);
  });

  it('connects as aegis for a backup recorded without its role (a run started before it was kept)', () => {
    const commands = manualRollbackSteps(failedAtCore, ['rollback:tag'], 'auto', 'default').join('\n');

    expect(commands.match(/-U \S+/g)).toEqual(Array(5).fill('-U aegis'));
  });

  it('never tells the operator to drop the database when the policy is `never`', () => {
    const commands = manualRollbackSteps(failedAtCore, ['rollback:tag'], 'never', 'default');

    expect(commands.join('\n')).not.toContain('drop database');
    expect(commands).toEqual([
      'make redeploy POD=database',
      'make redeploy POD=core',
      'make validate',
      'aegis-upgrade unlock --env default --reason "rolled back by hand"',
    ]);
  });
});

describe('rollbackPinTag', () => {
  const first = { workflowId: 'aegis-upgrade-default', runId: '0195c0de-1111-7000-8000-000000000001' };

  it("is the run's own: a new run under the same workflow ID pins under another tag", () => {
    const second = { ...first, runId: '0195c0de-2222-7000-8000-000000000002' };

    expect(rollbackPinTag(first)).toBe('aegis-rollback-aegis-upgrade-default-0195c0de-1111-7000-8000-000000000001');
    expect(rollbackPinTag(second)).not.toBe(rollbackPinTag(first));
  });

  it('stays an image tag of at most 128 characters, cutting the workflow ID, never the run ID', () => {
    const tag = rollbackPinTag({ ...first, workflowId: `aegis-upgrade-${'x/'.repeat(100)}` });

    expect(tag).toHaveLength(128);
    expect(isImageTag(tag)).toBe(true);
    expect(tag.endsWith(`-${first.runId}`)).toBe(true);
  });
});

describe('lockNotReleased', () => {
  it('says the lock stays, why, and the command that clears it', () => {
    expect(lockNotReleased('EACCES: permission denied', 'default')).toBe(
      "The upgrade's lock .aegis-upgrade.lock could not be released (EACCES: permission denied): it stays, and the " +
        'next upgrade is refused until it is cleared; clear it with `aegis-upgrade unlock --env default --reason "rolled back by hand"`',
    );
  });
});
