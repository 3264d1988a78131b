// Learning-rate schedules (Hugging Face "linear"): warm-up from 0 to the peak, then linear decay to 0.

/** lr(s) for s optimizer steps already taken: η·s/W during warm-up, then η·max(0, (S − s)/(S − W)). */
export function linearSchedule(peak: number, totalSteps: number, warmupSteps: number): (step: number) => number {
  if (!(totalSteps > 0)) throw new Error(`linearSchedule: total steps must be positive, got ${totalSteps}`);
  if (warmupSteps < 0 || warmupSteps > totalSteps) throw new Error(`linearSchedule: warm-up ${warmupSteps} outside [0, ${totalSteps}]`);
  return (s) => {
    if (s < warmupSteps) return (peak * s) / warmupSteps;
    if (totalSteps === warmupSteps) return 0;
    return peak * Math.max(0, (totalSteps - s) / (totalSteps - warmupSteps));
  };
}

/** Warm-up steps as a proportion of the total (docs/method.md §7.1 uses 10 %). */
export const warmupFor = (totalSteps: number, proportion: number): number => Math.floor(totalSteps * proportion);
