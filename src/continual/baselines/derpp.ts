// DER++ (Buzzega et al., 2020, "Dark Experience for General Continual Learning") as a continual
// post-training baseline: naive continual MLM plus, at every step, a replay mini-batch from a
// reservoir buffer of earlier domains' chunks:
//   loss = MLM + β·MLM(replayed chunks, freshly masked) + α·MSE(Z(replayed chunks), Z stored)
// where Z are the final hidden states [T, D] on the uncorrupted chunk (DER++ matches the logits; here
// the encoder's outputs, which the MLM head maps to them, at D instead of V floats per token), the MSE
// a mean over the elements of real tokens. α = β = 0.5 by default, the values the DER++ paper uses in
// most of its settings. Two simplifications of the paper's online setting:
//   - the stream reservoir-sampled into the buffer is every training chunk of each domain (in corpus
//     order), added after the domain is trained, not the batches as the optimizer visits them;
//   - so the stored Z are the outputs of the model at the END of the domain the chunk comes from
//     (DER++ stores the outputs when the sample enters the buffer, mid-training). Entries of earlier
//     domains keep the Z they were stored with.
// The buffer after domain t is <domain>/replay/ (ids, Z, the stream count, atomic), so it survives a
// resume; domain t > 0 replays the previous domain's buffer (its prior). Domain 0 is plain MLM.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { domainChunks, mlmCollate } from '../../data/mlm-data.js';
import { mlmLoss, mlmTargets, toDevice } from '../../nn/mlm.js';
import { encode } from '../../nn/roberta.js';
import { add, scalarOp } from '../../ops/binary.js';
import { full } from '../../ops/creation.js';
import { type Key, foldIn, key } from '../../ops/random.js';
import { fromArray } from '../../tensor/tensor.js';
import { continual, domainDir, mlmOf, nothing, seen, withModel } from '../common.js';
import { type AfterDomainEnv, type DomainEnv, type DomainTraining, type Method, type MethodOption, optionOf } from '../method.js';
import { type ReplayBuffer, entries, finalHidden, hiddenMse, readReplay, replayDraw, reservoir, writeReplay } from './replay.js';

/** Where afterDomain writes the buffer, under the domain's output. */
export const REPLAY_DIR = 'replay';
/** Key offsets from the run's seed: the reservoir's stream, and the replay draws of the steps. */
const RESERVOIR_SEED = 5381, DRAW_SEED = 4099;
/** Dropout key offsets of the two replay passes (apart from the training pass's site keys). */
const REPLAY_MLM_DROPOUT = 1 << 16, REPLAY_Z_DROPOUT = (1 << 16) + 1;

const DERPP_OPTIONS: Readonly<Record<string, MethodOption>> = {
  'replay-size': { kind: 'int', default: 256, min: 1, help: 'chunks kept in the reservoir replay buffer of earlier domains' },
  'derpp-alpha': { kind: 'number', default: 0.5, min: 0, help: "weight α of the MSE between the replayed chunks' current and stored final hidden states" },
  'derpp-beta': { kind: 'number', default: 0.5, min: 0, help: 'weight β of the MLM loss on the replayed chunks' },
};
const own = { name: 'derpp', options: DERPP_OPTIONS };

/** The key of the replay mini-batch of (step, micro-batch): foldIn(·, 0) draws the entries, foldIn(·, 1) masks them. */
export const replayKey = (seed: number, step: number, micro = 0): Key => foldIn(foldIn(key(seed + DRAW_SEED), step), micro);

/** DER++'s domain: no prior → plain MLM (replay parts 0); priors [previous buffer dir] → MLM + β·replayed MLM + α·MSE. */
async function derppTraining(env: DomainEnv): Promise<DomainTraining> {
  if (env.priors.length === 0) {
    return { loss: (params, b, dk) => { const mlm = mlmOf(env, params, b, dk); return [mlm, { mlm, replay: full([], 0, { backend: env.backend }), logits: full([], 0, { backend: env.backend }) }]; }, release: () => {} };
  }
  if (env.priors.length !== 1) throw new Error(`derpp: expects one prior, the previous domain's ${REPLAY_DIR}/; got ${env.priors.length}`);
  const buf = await readReplay(env.priors[0]);
  const { cfg, backend } = env, T = buf.seqLen, D = buf.width, n = entries(buf);
  if (T !== env.hyper.seqLen) throw new Error(`derpp: the buffer ${env.priors[0]} holds chunks of ${T} tokens, this domain trains on ${env.hyper.seqLen}`);
  if (D !== cfg.width) throw new Error(`derpp: the buffer ${env.priors[0]} holds hidden states of width ${D}, the model's is ${cfg.width}`);
  const alpha = optionOf<number>(own, env.hyper, 'derpp-alpha'), beta = optionOf<number>(own, env.hyper, 'derpp-beta');
  return {
    loss: (params, b, dk) => {
      const mlm = mlmOf(env, params, b, dk);
      const k = replayKey(env.hyper.seed, b.step, b.micro);
      const pick = replayDraw(n, b.corrupted.ids.shape[0], foldIn(k, 0));
      const mb = mlmCollate(pick.map((i) => buf.ids.subarray(i * T, (i + 1) * T)), { specials: buf.specials }, cfg.vocabSize, foldIn(k, 1)).batch;
      const stored = new Float32Array(pick.length * T * D);
      pick.forEach((i, r) => stored.set(buf.hidden.subarray(i * T * D, (i + 1) * T * D), r * T * D));
      const corrupted = toDevice(cfg, mb, backend), targets = mlmTargets(mb, backend);
      const original = toDevice(cfg, { B: mb.B, T, ids: mb.originalIds, attention: mb.attention }, backend);
      const drop = (o: number) => (dk ? { dropout: { key: foldIn(dk, o) } } : {});
      const replayed = mlmLoss(cfg, params, corrupted, targets, drop(REPLAY_MLM_DROPOUT));
      const z = encode(cfg, params, original, drop(REPLAY_Z_DROPOUT));
      const mse = hiddenMse(z, fromArray(stored, [mb.B, T, D], { backend }), original.mask, mb.attention.reduce((s, a) => s + a, 0));
      // the replay mini-batch of a micro-batch has its rows: under gradient accumulation its means count by share.rows (summing to 1)
      const rows = b.share?.rows ?? 1;
      const replay = scalarOp('mul', replayed, beta * rows), logits = scalarOp('mul', mse, alpha * rows);
      return [add(add(mlm, replay), logits), { mlm, replay, logits }];
    },
    release: () => {},
  };
}

/** The buffer after domain t (unless written already): the previous buffer (priors[0]) continued by reservoir sampling over this domain's chunks. */
async function derppAfterDomain(env: AfterDomainEnv): Promise<boolean> {
  const out = join(env.out, REPLAY_DIR);
  if (existsSync(out)) return false;
  const size = optionOf<number>(own, env.hyper, 'replay-size');
  const prevDir = env.priors?.length === 1 ? env.priors[0] : undefined;
  const prev = prevDir === undefined ? undefined : await readReplay(prevDir);
  if (prev !== undefined && prev.size !== size) throw new Error(`derpp: the buffer ${prevDir} has ${prev.size} slots, replay-size is ${size}`);
  if (prev !== undefined && prev.seqLen !== env.hyper.seqLen) throw new Error(`derpp: the buffer ${prevDir} holds chunks of ${prev.seqLen} tokens, this domain ${env.hyper.seqLen}`);
  await withModel(env.model, env.backend, async ({ cfg, params, tok }) => {
    const T = env.hyper.seqLen, D = cfg.width;
    const chunks = domainChunks(env.corpus, tok, T);
    type Entry = { old: number } | { chunk: number };
    const before: Entry[] = Array.from({ length: prev === undefined ? 0 : entries(prev) }, (_, i) => ({ old: i }));
    const slots = reservoir<Entry>(before, prev?.seen ?? 0, chunks.map((_, i) => ({ chunk: i })), size, key(env.hyper.seed + RESERVOIR_SEED));
    const fresh = slots.flatMap((e) => ('chunk' in e ? [e.chunk] : []));
    env.log(`derpp: ${fresh.length} of ${chunks.length} chunks enter the replay buffer (${slots.length}/${size} slots); their hidden states under ${env.model}`);
    const z = await finalHidden(cfg, params, fresh.map((c) => chunks[c]));
    const domain = prev?.domains ?? 0;
    const b: ReplayBuffer = {
      size, seen: (prev?.seen ?? 0) + chunks.length, domains: domain + 1, seqLen: T, width: D, specials: tok.specials,
      ids: new Int32Array(slots.length * T), hidden: new Float32Array(slots.length * T * D), origin: new Int32Array(slots.length * 2),
    };
    let f = 0;
    slots.forEach((e, s) => {
      if ('old' in e) {
        b.ids.set(prev!.ids.subarray(e.old * T, (e.old + 1) * T), s * T);
        b.hidden.set(prev!.hidden.subarray(e.old * T * D, (e.old + 1) * T * D), s * T * D);
        b.origin.set(prev!.origin.subarray(e.old * 2, e.old * 2 + 2), s * 2);
      } else {
        b.ids.set(chunks[e.chunk], s * T);
        b.hidden.set(z.subarray(f * T * D, (f + 1) * T * D), s * T * D);
        b.origin.set([domain, e.chunk], s * 2);
        f++;
      }
    });
    await writeReplay(out, b, { model: env.model, data: env.corpus, previous: prevDir ?? null, seed: env.hyper.seed });
  });
  return true;
}

/** DER++: continual MLM + β·replayed MLM + α·MSE of replayed hidden states. Logged parts: mlm, replay (β·…), logits (α·…); loss = their sum. */
export const derpp: Method = {
  name: 'derpp',
  summary: 'continual MLM of the whole model plus replay of a reservoir buffer of earlier chunks: their MLM loss and the MSE to their stored final hidden states (DER++)',
  options: DERPP_OPTIONS,
  startsFrom: continual,
  evaluates: seen,
  prepare: nothing,
  priors: (ctx, t) => (t === 0 ? [] : [join(domainDir(ctx, t - 1), REPLAY_DIR)]),
  domain: derppTraining,
  afterDomain: derppAfterDomain,
  afterDomainOutput: REPLAY_DIR,
};
