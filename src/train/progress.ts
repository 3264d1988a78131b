// Progress reporting for long loops, supplied by the caller (the command line draws bars; a library
// user may log, or show nothing). The library never draws anything itself.

export interface ProgressReporter {
  /** `done` of `total` units finished; `fields` are shown beside (loss, rate, …); `force` bypasses throttling. */
  update(done: number, fields?: Record<string, string | number>, force?: boolean): void;
  /** The loop ended; `message` (e.g. why it stopped early) must reach the user. */
  done(message?: string): void;
}

/** Makes a reporter for a loop of `total` units that starts at `from` (a resumed run). */
export type ProgressFactory = (label: string, total: number, from?: number) => ProgressReporter;

/** No bars; a final message still goes to stderr. The default of every library loop. */
export const noProgress: ProgressFactory = () => ({
  update: () => {},
  done: (message) => { if (message) process.stderr.write(`${message}\n`); },
});
