// A module that loads pg or execa fails to load here: the CLI must load neither (only the worker's activities use
// them, and `aegis-upgrade worker` imports those when it runs).
jest.mock('pg', () => {
  throw new Error('pg was loaded');
});
jest.mock('execa', () => {
  throw new Error('execa was loaded');
});

describe("the CLI's modules", () => {
  it.each([
    'program',
    'commands',
    'upgrades',
    'unlock',
    'schedules',
    'follow',
    'render',
    'terminal',
    'errors',
    'fleet',
    'render-fleet',
    'components',
    'request-options',
    'doctor',
    'render-doctor',
  ])('cli/%s loads without pg or execa', (name) => {
    jest.isolateModules(() => {
      expect(() => jest.requireActual(`../../src/cli/${name}`)).not.toThrow();
    });
  });

  it('this check would see an activity: pre-flight loads pg', () => {
    jest.isolateModules(() => {
      expect(() => jest.requireActual('../../src/activities/preflight')).toThrow('pg was loaded');
    });
  });
});
