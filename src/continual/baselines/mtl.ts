// MTL, the non-continual upper bound: one model post-trained from the base model on all domains' text
// mixed (every training line of every domain's corpus — the 5 % each domain holds out for the held-out
// evaluation stay out — in one file; batches are drawn at random from its chunks), for as many steps as the whole sequence gets (steps per domain × domains), then every end
// task is fine-tuned from it. It has no progressive matrix, so no forgetting rate.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { orThrow, readCorpus } from '../../data/validate.js';
import { splitValid } from '../../data/mlm-data.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { mlmTraining, nothing } from '../common.js';
import type { Method, SeedContext } from '../method.js';

/** <seed dir>/mixed.txt: every domain's training lines, one domain after another (written once). */
async function mixedCorpus(ctx: SeedContext): Promise<string> {
  const file = join(ctx.dir, 'mixed.txt');
  if (existsSync(file)) return file;
  const lines = ctx.domains.flatMap((d) => splitValid(orThrow(readCorpus(d.train)), 5).train);
  await mkdir(ctx.dir, { recursive: true });
  await writeFileAtomic(file, `${lines.join('\n')}\n`);
  return file;
}

export const mtl: Method = {
  name: 'mtl',
  summary: "non-continual upper bound: one model post-trained with MLM on all domains' text mixed (the sequence's total steps), then every end task",
  scores: 'final',
  startsFrom: (ctx) => ctx.base,
  trainsDomain: (t, count) => t === count - 1,
  corpus: (ctx) => mixedCorpus(ctx),
  corpusIsTraining: true,
  steps: (ctx) => ctx.hyper.steps * ctx.domains.length,
  evaluates: (t, count) => (t === count - 1 ? Array.from({ length: count }, (_, k) => k) : []),
  prepare: nothing,
  domain: mlmTraining,
};
