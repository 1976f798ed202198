import type { Logger } from './logger.js';

/** Hooks close in phase order: stop taking work, finish work, then release resources. */
export type ShutdownPhase = 'servers' | 'workers' | 'resources';
const PHASES: ShutdownPhase[] = ['servers', 'workers', 'resources'];

type Hook = { name: string; phase: ShutdownPhase; run: () => Promise<unknown> };

/**
 * One shutdown registry per process. Hooks run phase by phase (servers, then
 * workers, then pools), in the order added within a phase; if they have not all finished
 * within the deadline the process exits 1 rather than hang.
 */
export class Shutdown {
  private readonly hooks: Hook[] = [];
  private started: Promise<void> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly deadlineMs: number,
    private readonly exit: (code: number) => void = (code) => process.exit(code),
  ) {}

  add(name: string, run: () => Promise<unknown>, phase: ShutdownPhase = 'resources'): void {
    this.hooks.push({ name, phase, run });
  }

  /**
   * Installs SIGTERM and SIGINT handlers that run the hooks then exit 0.
   * They stay installed: Ctrl+C reaches a process twice under a runner (from
   * the terminal and forwarded by the runner), and a second signal must not
   * kill it mid-shutdown with the default action; the deadline still bounds it.
   */
  installSignalHandlers(): void {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => {
        if (this.started) return;
        this.logger.info({ signal }, 'shutting down');
        void this.run().then(
          () => this.exit(0),
          () => this.exit(1),
        );
      });
    }
  }

  run(): Promise<void> {
    this.started ??= this.runHooks();
    return this.started;
  }

  private async runHooks(): Promise<void> {
    const deadline = setTimeout(() => {
      this.logger.error({ deadlineMs: this.deadlineMs }, 'shutdown deadline passed; exiting');
      this.exit(1);
    }, this.deadlineMs);
    deadline.unref();
    let failed = false;
    const ordered = PHASES.flatMap((phase) => this.hooks.filter((hook) => hook.phase === phase));
    for (const hook of ordered) {
      try {
        await hook.run();
        this.logger.debug({ hook: hook.name }, 'closed');
      } catch (error) {
        failed = true;
        this.logger.error({ err: error, hook: hook.name }, 'error while closing');
      }
    }
    clearTimeout(deadline);
    this.logger.info('shutdown complete');
    if (failed) throw new Error('one or more shutdown hooks failed');
  }
}
