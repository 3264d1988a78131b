// The only fp-ts import site. fp-ts 2.x ships CommonJS under lib/; the explicit `.js` paths make
// Node's ESM loader and NodeNext type resolution agree, so the rest of the code imports from here.
export { pipe, flow } from 'fp-ts/lib/function.js';
export * as E from 'fp-ts/lib/Either.js';
