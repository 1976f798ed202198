/**
 * Preloaded (`--import`) into a server a benchmark wants a CPU profile of:
 * each SIGUSR2 toggles V8's sampling profiler; stopping writes
 * `$BENCH_CPU_PROFILE_DIR/<n>.cpuprofile` (Chrome DevTools format). The
 * server's own code is untouched. See cpu-profile.ts for the other side.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  const post = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
    );
  let running = false;
  let written = 0;
  const toggle = async () => {
    if (!running) {
      running = true;
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 200 }); // µs
      await post('Profiler.start');
      return;
    }
    running = false;
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    written += 1;
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${written}.cpuprofile`);
    // Renamed into place, so a reader never sees half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify(profile));
    renameSync(`${file}.tmp`, file);
  };
  process.on('SIGUSR2', () => {
    toggle().catch((error: unknown) => console.error('cpu-profile-preload:', error));
  });
}
