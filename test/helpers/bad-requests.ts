/**
 * Requests the upgrade must refuse before it changes anything, each with what its refusal must say. JSON values only:
 * the integration test sends each as the `--input` of `temporal workflow start`.
 */
export interface BadRequest {
  name: string;
  request: unknown;
  /** Fragments the message must contain. */
  says: string[];
}

const version = { targetVersion: '1.3.0' };
const gate = { ...version, approveBefore: ['core'] };

export const BAD_REQUESTS: BadRequest[] = [
  // Not a request at all.
  { name: 'null', request: null, says: ['Expected the upgrade request to be an object', 'got `null`'] },
  { name: 'a bare version string', request: '1.3.0', says: ['like {"targetVersion":"1.3.0"}, got `"1.3.0"`'] },
  { name: 'an array', request: ['1.3.0'], says: ['got `["1.3.0"]`'] },
  { name: 'a number', request: 130, says: ['got `130`'] },
  { name: 'a boolean', request: true, says: ['got `true`'] },

  // targetVersion
  {
    name: 'no targetVersion',
    request: {},
    says: ['Expected `targetVersion` to be an image tag like 1.3.0, got nothing'],
  },
  {
    name: 'a shell command in targetVersion',
    request: { targetVersion: '1.3.0; rm -rf /' },
    says: ['Expected `targetVersion` to be an image tag like 1.3.0, got `1.3.0; rm -rf /`'],
  },
  {
    name: 'a newline in targetVersion (a second line of .env)',
    request: { targetVersion: '1.3.0\nLD_PRELOAD=/tmp/x.so' },
    says: ['got `1.3.0\\nLD_PRELOAD=/tmp/x.so`'],
  },
  {
    name: 'a command substitution in targetVersion',
    request: { targetVersion: '$(reboot)' },
    says: ['got `$(reboot)`'],
  },
  { name: 'an empty targetVersion', request: { targetVersion: '' }, says: ['image tag like 1.3.0, got ``'] },
  { name: 'a targetVersion starting with a dash', request: { targetVersion: '-1.3.0' }, says: ['got `-1.3.0`'] },
  { name: 'a targetVersion starting with a dot', request: { targetVersion: '.1.3.0' }, says: ['got `.1.3.0`'] },
  {
    name: 'a targetVersion longer than a tag may be',
    request: { targetVersion: `1.3.0-${'x'.repeat(130)}` },
    says: [`got \`1.3.0-${'x'.repeat(58)}…\``],
  },
  { name: 'a numeric targetVersion', request: { targetVersion: 1.3 }, says: ['image tag like 1.3.0, got `1.3`'] },
  { name: 'a targetVersion in a list', request: { targetVersion: ['1.3.0'] }, says: ['got `["1.3.0"]`'] },

  // Unknown fields
  {
    name: 'a misspelt restoreDatabase',
    request: { ...version, restoreDatabse: 'never' },
    says: ['Unknown field `restoreDatabse`: did you mean `restoreDatabase`?'],
  },
  {
    name: 'a misspelt field set to null',
    request: { ...version, restoreDatabse: null },
    says: ['Unknown field `restoreDatabse`'],
  },
  { name: 'Pods capitalised', request: { ...version, Pods: ['core'] }, says: ['did you mean `pods`?'] },
  {
    name: 'approve_before in snake case',
    request: { ...version, approve_before: ['core'] },
    says: ['Unknown field `approve_before`: did you mean `approveBefore`?'],
  },
  { name: 'dryrun in lower case', request: { ...version, dryrun: true }, says: ['did you mean `dryRun`?'] },
  {
    name: 'a field the request does not have',
    request: { ...version, force: true },
    says: ['Unknown field `force`: expected only targetVersion, pods, strategy, restoreDatabase'],
  },
  {
    name: 'a __proto__ field',
    request: JSON.parse('{"targetVersion":"1.3.0","__proto__":{"dryRun":true}}') as unknown,
    says: ['Unknown field `__proto__`'],
  },
  {
    name: 'more problems than a message lists',
    request: { ...version, ...Object.fromEntries(Array.from({ length: 25 }, (_, index) => [`extra${index}`, 1])) },
    says: ['Unknown field `extra0`', 'Unknown field `extra19`', 'and 5 more problems'],
  },

  // pods
  {
    name: 'pods as a string',
    request: { ...version, pods: 'core' },
    says: ['Expected `pods` to be a list of pods like ["core"], got `"core"`'],
  },
  { name: 'no pods', request: { ...version, pods: [] }, says: ['Expected `pods` to list at least one pod'] },
  {
    name: 'an unknown pod',
    request: { ...version, pods: ['core', 'mongodb'] },
    says: ['Unknown pod `mongodb` in `pods`: expected one of database, core, temporal, seal-gateway, observability'],
  },
  {
    name: 'a misspelt pod',
    request: { ...version, pods: ['seal_gateway'] },
    says: ['Unknown pod `seal_gateway` in `pods`: did you mean `seal-gateway`?'],
  },
  {
    name: 'a pod twice',
    request: { ...version, pods: ['core', 'core'] },
    says: ['`pods` lists pod `core` more than once'],
  },
  {
    name: 'more pods than there are',
    request: { ...version, pods: ['database', 'core', 'temporal', 'seal-gateway', 'observability', 'core'] },
    says: ['Expected `pods` to list at most 5 pods, each once, got 6'],
  },
  {
    name: 'a pod that is not a name',
    request: { ...version, pods: [1] },
    says: ['Expected `pods` to list pod names, got `1`'],
  },

  // approveBefore
  {
    name: 'approveBefore as a string',
    request: { ...version, approveBefore: 'core' },
    says: ['Expected `approveBefore` to be a list of pods like ["core"], got `"core"`'],
  },
  {
    name: 'an unknown pod to approve',
    request: { ...version, approveBefore: ['mongodb'] },
    says: ['Unknown pod `mongodb` in `approveBefore`'],
  },
  {
    name: 'a pod to approve twice',
    request: { ...version, approveBefore: ['core', 'core'] },
    says: ['`approveBefore` lists pod `core` more than once'],
  },
  {
    name: 'an approval before a pod that is not redeployed',
    request: { ...version, pods: ['database', 'temporal'], approveBefore: ['core', 'temporal'] },
    says: ['Expected `approveBefore` to name pods that `pods` redeploys, got `core`: its gate would never be reached'],
  },

  // strategy
  {
    name: 'an unknown strategy',
    request: { ...version, strategy: 'blue-green' },
    says: ['Expected `strategy` to be rolling or full, got `blue-green`'],
  },
  { name: 'a strategy in capitals', request: { ...version, strategy: 'FULL' }, says: ['got `FULL`'] },
  { name: 'a numeric strategy', request: { ...version, strategy: 1 }, says: ['rolling or full, got `1`'] },
  {
    name: 'pods with a full upgrade, which redeploys the whole profile',
    request: { ...version, strategy: 'full', pods: ['core'] },
    says: ['`pods` cannot be used with strategy full'],
  },
  {
    name: 'an approval in a full upgrade, which has no step between pods',
    request: { ...gate, strategy: 'full' },
    says: ['`approveBefore` cannot be used with strategy full'],
  },

  // restoreDatabase
  {
    name: 'an unknown restore policy',
    request: { ...version, restoreDatabase: 'sometimes' },
    says: ['Expected `restoreDatabase` to be auto, always or never, got `sometimes`'],
  },
  { name: 'a boolean restore policy', request: { ...version, restoreDatabase: false }, says: ['got `false`'] },

  // approvalTimeout
  {
    name: 'an approvalTimeout that is no duration',
    request: { ...gate, approvalTimeout: 'abc' },
    says: ['Expected `approvalTimeout` to be a duration like 30 minutes or 2h, between 1 second and 7 days, got `abc`'],
  },
  {
    name: 'a negative approvalTimeout',
    request: { ...gate, approvalTimeout: '-5 minutes' },
    says: ['got `-5 minutes`'],
  },
  { name: 'a zero approvalTimeout', request: { ...gate, approvalTimeout: '0s' }, says: ['got `0s`'] },
  { name: 'an approvalTimeout under a second', request: { ...gate, approvalTimeout: '500ms' }, says: ['got `500ms`'] },
  { name: 'an approvalTimeout over a week', request: { ...gate, approvalTimeout: '8 days' }, says: ['got `8 days`'] },
  {
    name: 'an approvalTimeout in unknown units',
    request: { ...gate, approvalTimeout: '2 fortnights' },
    says: ['got `2 fortnights`'],
  },
  {
    name: 'an approvalTimeout in milliseconds',
    request: { ...gate, approvalTimeout: 300_000 },
    says: ['got `300000`'],
  },
  {
    name: 'an approvalTimeout without a gate',
    request: { ...version, approvalTimeout: '30 minutes' },
    says: ['`approvalTimeout` needs `approveBefore`'],
  },
  {
    name: 'an approvalTimeout with an empty list of gates',
    request: { ...version, approveBefore: [], approvalTimeout: '30 minutes' },
    says: ['`approvalTimeout` needs `approveBefore`'],
  },

  // dryRun
  {
    name: 'dryRun as the string "false"',
    request: { ...version, dryRun: 'false' },
    says: ['Expected `dryRun` to be true or false, got `"false"`'],
  },
  {
    name: 'dryRun as a number',
    request: { ...version, dryRun: 0 },
    says: ['Expected `dryRun` to be true or false, got `0`'],
  },

  // restoreFrom: a backup's directory name, never a path
  {
    name: 'a path in restoreFrom',
    request: { ...version, restoreFrom: '../../etc' },
    says: ["Expected `restoreFrom` to be a backup's directory name", 'got `../../etc`'],
  },
  {
    name: 'restoreFrom as a number',
    request: { ...version, restoreFrom: 20261126 },
    says: ["Expected `restoreFrom` to be a backup's directory name", 'got `20261126`'],
  },
  {
    name: 'a typo of restoreFrom',
    request: { ...version, restoreFrm: '20261126T031500Z-1.2.0-to-1.3.0' },
    says: ['Unknown field `restoreFrm`: did you mean `restoreFrom`?'],
  },

  {
    name: 'redeployAll as a string',
    request: { ...version, redeployAll: 'yes' },
    says: ['Expected `redeployAll` to be true or false, got `"yes"`'],
  },
  {
    name: 'redeployAll with pods, which are redeployed changed or not',
    request: { ...version, pods: ['core'], redeployAll: true },
    says: ['`redeployAll` cannot be used with `pods`'],
  },
  {
    name: 'redeployAll with a full upgrade, which deploys the whole profile anyway',
    request: { ...version, strategy: 'full', redeployAll: true },
    says: ['`redeployAll` cannot be used with strategy full'],
  },

  {
    name: 'concurrentAfterCore with a gate after core, which has no pod-by-pod step to wait at',
    request: { ...version, concurrentAfterCore: true, approveBefore: ['seal-gateway'] },
    says: ['`concurrentAfterCore` cannot be used with an approval gate after core (`seal-gateway`)'],
  },
  {
    name: 'concurrentAfterCore with a full upgrade',
    request: { ...version, strategy: 'full', concurrentAfterCore: true },
    says: ['`concurrentAfterCore` cannot be used with strategy full'],
  },
  {
    name: 'refreshMovingImages as a string',
    request: { ...version, refreshMovingImages: 'yes' },
    says: ['Expected `refreshMovingImages` to be true or false, got `"yes"`'],
  },

  // Everything at once
  {
    name: 'every problem of a request, in one message',
    request: { targetVersion: '$(reboot)', pods: ['mongodb'], strategy: 'canary', restoreDatabse: 'never' },
    says: ['`$(reboot)`', 'Unknown pod `mongodb`', '`canary`', 'did you mean `restoreDatabase`?'],
  },
];
