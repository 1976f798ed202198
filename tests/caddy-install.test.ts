import { describe, expect, it } from 'vitest';
import { caddyInstallPlan, packageInstallPlan, type MachineFacts } from '../scripts/lib/dependencies.js';

/**
 * How `pnpm start` gets Caddy onto a machine that lacks it. The decision is a
 * pure function of the machine's facts, so every branch is checked here
 * without uninstalling anything.
 */

const debian: MachineFacts = {
  platform: 'linux',
  uid: 1000,
  hasAptGet: true,
  hasBrew: false,
  passwordlessSudo: false,
};
const mac: MachineFacts = {
  platform: 'darwin',
  uid: 501,
  hasAptGet: false,
  hasBrew: true,
  passwordlessSudo: false,
};

const argvs = (facts: MachineFacts) => {
  const plan = caddyInstallPlan(facts);
  return plan.kind === 'install' ? plan.steps.map((step) => step.argv.join(' ')) : plan.reason;
};

describe('caddyInstallPlan', () => {
  it('uses apt-get as root on Debian/Ubuntu, updating the package lists first, without prompts', () => {
    const plan = caddyInstallPlan({ ...debian, uid: 0 });
    expect(plan).toMatchObject({ kind: 'install' });
    expect(argvs({ ...debian, uid: 0 })).toEqual(['apt-get update', 'apt-get install -y caddy']);
    if (plan.kind === 'install') {
      for (const step of plan.steps) expect(step.env).toEqual({ DEBIAN_FRONTEND: 'noninteractive' });
      expect(plan.how).toContain('as root');
    }
  });

  it('uses sudo -n when sudo needs no password', () => {
    expect(argvs({ ...debian, passwordlessSudo: true })).toEqual([
      'sudo -n env DEBIAN_FRONTEND=noninteractive apt-get update',
      'sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y caddy',
    ]);
  });

  it('prefers plain root to sudo', () => {
    expect(argvs({ ...debian, uid: 0, passwordlessSudo: true })).toEqual([
      'apt-get update',
      'apt-get install -y caddy',
    ]);
  });

  it('does not install where sudo would ask for a password', () => {
    expect(caddyInstallPlan(debian)).toEqual({
      kind: 'manual',
      reason: 'installing needs root, and sudo asks for a password',
    });
  });

  it('does not install on a Linux without apt-get, even as root', () => {
    expect(caddyInstallPlan({ ...debian, uid: 0, hasAptGet: false, passwordlessSudo: true })).toMatchObject({
      kind: 'manual',
      reason: expect.stringContaining('no apt-get'),
    });
  });

  it('uses Homebrew on macOS, never with sudo', () => {
    expect(argvs(mac)).toEqual(['brew install caddy']);
    expect(argvs({ ...mac, passwordlessSudo: true })).toEqual(['brew install caddy']);
  });

  it('does not install on macOS without Homebrew, or as root (Homebrew refuses)', () => {
    expect(caddyInstallPlan({ ...mac, hasBrew: false })).toMatchObject({ kind: 'manual' });
    expect(caddyInstallPlan({ ...mac, uid: 0 })).toMatchObject({ kind: 'manual' });
  });

  it.each(['win32', 'freebsd'] as const)('does not install on %s', (platform) => {
    expect(caddyInstallPlan({ ...debian, platform, uid: undefined, hasBrew: true })).toMatchObject({
      kind: 'manual',
      reason: expect.stringContaining(platform),
    });
  });
});

describe('packageInstallPlan', () => {
  it("names each package manager's own package (poppler-utils on apt, poppler on Homebrew)", () => {
    const poppler = { apt: 'poppler-utils', brew: 'poppler' };
    const apt = packageInstallPlan({ ...debian, uid: 0 }, poppler);
    expect(apt.kind === 'install' && apt.steps.map((step) => step.argv.join(' '))).toEqual([
      'apt-get update',
      'apt-get install -y poppler-utils',
    ]);
    const brew = packageInstallPlan(mac, poppler);
    expect(brew.kind === 'install' && brew.steps.map((step) => step.argv.join(' '))).toEqual([
      'brew install poppler',
    ]);
  });
});
