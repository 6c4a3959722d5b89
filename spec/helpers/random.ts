/** A small seeded PRNG (mulberry32), so that a failing random case can be replayed. */
export { prng } from '../../lib/random/index.ts';
