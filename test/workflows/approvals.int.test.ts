import type { WorkflowHandle } from '@temporalio/client';
import { approveUpgrade } from '../../src/cli/upgrades';
import { UsageError } from '../../src/cli/errors';
import { approveSignal, progressQuery, type UpgradeProgress, type UpgradeReport } from '../../src/core/upgrade';
import { startStandInServer, until, type StandInServer } from '../helpers/stand-in-activities';

const SETUP_TIMEOUT_MS = 2 * 60_000;
const SCENARIO_TIMEOUT_MS = 60_000;

/**
 * Approvals on the real dev server, with stand-in activities: an approval releases the gate the upgrade waits at and
 * no other, so two operators approving at the same moment cannot skip a gate.
 */
describe('approvals release only the gate waiting', () => {
  let bench: StandInServer;

  beforeAll(async () => {
    bench = await startStandInServer();
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await bench?.close();
  });

  const request = { targetVersion: '1.3.0', approveBefore: ['core', 'temporal'] as const };
  const start = (environment: string, hold?: string) =>
    bench.start(
      `aegis-upgrade-${environment}`,
      { ...request, approveBefore: [...request.approveBefore] },
      hold ? { hold } : {},
    );
  /** The progress once the upgrade waits at `pod`'s gate, or once it ended without waiting there. */
  const atGateOrEnd = async (handle: WorkflowHandle, pod: string): Promise<UpgradeProgress> => {
    let progress: UpgradeProgress | undefined;
    await until(async () => {
      progress = await handle.query(progressQuery);
      const waiting = progress.phase === 'waiting-for-approval' && progress.currentStep === `approve:${pod}`;
      return waiting || ['completed', 'rolled-back', 'rollback-failed'].includes(progress.phase);
    });
    return progress as UpgradeProgress;
  };
  /** What each `approve` signal of the upgrade carried, from its history. */
  const approvalsSent = async (handle: WorkflowHandle) =>
    (await handle.fetchHistory()).events
      ?.flatMap((event) => event.workflowExecutionSignaledEventAttributes ?? [])
      .filter((signal) => signal.signalName === approveSignal.name)
      .map((signal) => JSON.parse(Buffer.from(signal.input?.payloads?.[0]?.data ?? '').toString('utf8')) as unknown);

  test(
    'two approvals without a gate name sent at once (docs/temporal-recipes.md): one releases core, the other is refused',
    async () => {
      const handle = await start('two-at-once');
      await atGateOrEnd(handle, 'core');
      await Promise.all([handle.signal(approveSignal), handle.signal(approveSignal)]);

      const progress = await atGateOrEnd(handle, 'temporal');
      expect(progress).toMatchObject({ phase: 'waiting-for-approval', currentStep: 'approve:temporal' });
      expect(progress.notes).toHaveLength(1);
      expect(progress.notes?.[0]).toMatch(
        /^Approval refused: (the upgrade waits at the gate before `core`|no gate waits for an approval now); an approval is never kept for a later gate$/,
      );
      await handle.signal(approveSignal);
      expect(((await handle.result()) as UpgradeReport).phase).toBe('completed');
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    '`aegis-upgrade approve` names the gate it saw; a late approval of that gate is refused, and --pod must name the gate waiting',
    async () => {
      const handle = await start('operators', 'redeployPod:core');
      await atGateOrEnd(handle, 'core');
      expect(await approveUpgrade(bench.client, 'operators', undefined, {})).toEqual({
        workflowId: 'aegis-upgrade-operators',
        gate: 'core',
      });
      await until(() => bench.standIn.holding(handle.workflowId));
      // The second operator saw the same gate waiting: their approval names it, and arrives once it was released.
      await handle.signal(approveSignal, { pod: 'core' });
      await expect(approveUpgrade(bench.client, 'operators', undefined, {})).rejects.toThrow(
        'aegis-upgrade-operators is not waiting for an approval (phase: upgrading)',
      );
      bench.standIn.release(handle.workflowId);

      expect(await atGateOrEnd(handle, 'temporal')).toMatchObject({
        phase: 'waiting-for-approval',
        notes: [
          'Approval for `core` refused: its gate is already approved; approve a gate while the upgrade waits at it',
        ],
      });
      await expect(approveUpgrade(bench.client, 'operators', 'core', {})).rejects.toThrow(
        new UsageError('aegis-upgrade-operators waits at the gate before temporal, not core: nothing was approved'),
      );
      await approveUpgrade(bench.client, 'operators', 'temporal', { by: 'ana@ops-1', reason: 'core is fine' });
      expect(((await handle.result()) as UpgradeReport).phase).toBe('completed');
      expect(await approvalsSent(handle)).toEqual([
        { pod: 'core' },
        { pod: 'core' },
        { pod: 'temporal', by: 'ana@ops-1', reason: 'core is fine' },
      ]);
      // Who released each gate is recorded: the second `core` approval was refused, so it is not among them.
      expect(((await handle.result()) as UpgradeReport).approvals).toEqual([
        { pod: 'core', at: expect.any(String) },
        { pod: 'temporal', by: 'ana@ops-1', reason: 'core is fine', at: expect.any(String) },
      ]);
    },
    SCENARIO_TIMEOUT_MS,
  );
});
