import { PreflightFailed } from '../../src/core/errors';
import { parsePodDefinition } from '../../src/host/pod-definitions';
import { partlyUpgraded, resolvePods, temporalServerVersion } from '../../src/activities/preflight';
import { profilePods } from '../../src/host/deployment';
import type { UpgradeRequest } from '../../src/core/upgrade';
import { thrown } from '../helpers/thrown';

/** aegis-deploy's `profiles/full.conf`: pods that are not upgraded (secrets, storage, iam) sit among the others. */
const FULL_PROFILE = 'PODS="database secrets storage temporal seal-gateway core iam observability"\n';
const FULL_PODS = profilePods(FULL_PROFILE);

describe('profilePods', () => {
  it('lists the pods of a profile in the order it gives them', () => {
    expect(FULL_PODS).toEqual([
      'database',
      'secrets',
      'storage',
      'temporal',
      'seal-gateway',
      'core',
      'iam',
      'observability',
    ]);
  });

  it('reads PODS below comments, unquoted or single-quoted', () => {
    expect(profilePods('# Smallest useful platform\nPODS=database core\n')).toEqual(['database', 'core']);
    expect(profilePods("PODS='database  core'")).toEqual(['database', 'core']);
  });

  it('ignores a commented-out PODS line', () => {
    expect(profilePods('# PODS="database core observability"\nPODS="database core"\n')).toEqual(['database', 'core']);
  });

  it('finds no pod in a profile without PODS', () => {
    expect(profilePods('PROFILE_NAME=custom\n')).toEqual([]);
  });
});

describe('resolvePods', () => {
  it("defaults to the guide's rolling order, limited to the profile's pods", () => {
    expect(resolvePods({ targetVersion: '1.3.0' }, FULL_PODS)).toEqual([
      'database',
      'core',
      'temporal',
      'seal-gateway',
      'observability',
    ]);
  });

  it("follows the rolling order, not the profile's, and leaves out pods the profile lacks", () => {
    expect(resolvePods({ targetVersion: '1.3.0' }, ['core', 'secrets', 'database'])).toEqual(['database', 'core']);
  });

  it('keeps explicit pods in the order given', () => {
    expect(resolvePods({ targetVersion: '1.3.0-pre-alpha', pods: ['seal-gateway', 'core'] }, FULL_PODS)).toEqual([
      'seal-gateway',
      'core',
    ]);
  });

  it("refuses a pod outside the deployment's profile and names it", () => {
    const error = thrown(PreflightFailed, () =>
      resolvePods({ targetVersion: '1.3.0', pods: ['seal-gateway'] }, ['database', 'core']),
    );

    expect(error.message).toContain("Pod `seal-gateway` is not in the deployment's profile");
  });

  it('checks the pods awaiting approval too', () => {
    const error = thrown(PreflightFailed, () =>
      resolvePods({ targetVersion: '1.3.0', approveBefore: ['observability'] }, ['database', 'core']),
    );

    expect(error.message).toContain('`observability`');
  });

  it('names every pod outside the profile at once, each once', () => {
    const request: UpgradeRequest = { targetVersion: '1.3.0', pods: ['core', 'temporal'], approveBefore: ['temporal'] };

    expect(thrown(PreflightFailed, () => resolvePods(request, ['database'])).message).toBe(
      "Pod `core` is not in the deployment's profile; Pod `temporal` is not in the deployment's profile",
    );
  });
});

describe('temporalServerVersion', () => {
  it("reads the major.minor of the auto-setup image pinned in pod temporal's YAML", () => {
    const yaml = [
      'spec:',
      '  containers:',
      '    - name: temporal',
      '      image: docker.io/temporalio/auto-setup:1.23.0',
      '    - name: temporal-worker',
      '      image: ghcr.io/100monkeys-ai/aegis-temporal-worker:${AEGIS_IMAGE_TAG}',
      '    - name: temporal-ui',
      '      image: docker.io/temporalio/ui:2.21.3',
    ].join('\n');

    expect(temporalServerVersion(parsePodDefinition(yaml, 'pod-temporal.yaml'))).toBe('1.23');
  });

  it('is undefined when the server image is not pinned to a version', () => {
    const pod = (image: string) =>
      parsePodDefinition(`spec:\n  containers:\n    - image: ${image}\n`, 'pod-temporal.yaml');
    expect(temporalServerVersion(pod('temporalio/auto-setup:${TEMPORAL_VERSION}'))).toBeUndefined();
    expect(temporalServerVersion(pod('temporalio/auto-setup:latest'))).toBeUndefined();
    expect(temporalServerVersion(pod('temporalio/ui:2.21.3'))).toBeUndefined();
  });
});

describe('partlyUpgraded', () => {
  it('names the containers that do not run what .env names (an upgrade terminated part-way)', () => {
    const images = [
      { container: 'aegis-core-aegis-runtime', current: 'r/aegis-runtime:1.3.0', target: 'r/aegis-runtime:1.3.0' },
      {
        container: 'aegis-temporal-temporal-worker',
        current: 'r/aegis-temporal-worker:1.2.0',
        target: 'r/aegis-temporal-worker:1.3.0',
      },
    ];
    expect(partlyUpgraded('1.3.0', images)).toBe(
      'Left part-way by an earlier upgrade: .env names 1.3.0 already, but aegis-temporal-temporal-worker runs ' +
        'r/aegis-temporal-worker:1.2.0; every pod is redeployed',
    );
  });
});
